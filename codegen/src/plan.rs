//! The checked logical plan: one node per stage, with the schema after every stage, and what
//! every stage's operator (`ops/`) answers to the optimiser and to lowering.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use syn::{Expr, Path};

use crate::emit::{GeneratedRecords, RowLoop};
use crate::schema::Schema;

/// A checked pipeline.
pub struct Plan {
    pub source: SourceNode,
    pub stages: Vec<Node>,
    pub sink: Option<SinkNode>,
    /// `schemas[0]` is the source's output; `schemas[i + 1]` the output of `stages[i]`.
    pub schemas: Vec<Schema>,
    /// Whether adjacent row-wise stages may be fused (`#![no_fusion]` turns it off).
    pub fusion: bool,
    /// `live[i]`: the columns of `schemas[i]` that some later stage or the output uses (set by
    /// projection pushdown; empty before it runs, meaning all).
    pub live: Vec<BTreeSet<String>>,
}

impl Plan {
    /// The pipeline's output schema.
    pub fn output(&self) -> &Schema {
        self.schemas
            .last()
            .expect("the source's schema is always there")
    }

    /// The columns a block carries after stage `i - 1` (the source's, for 0) where a stage
    /// builds it: `schemas[i]` less the columns nothing after it reads. Why: the source reads
    /// only live columns, so a block built later cannot carry the others either.
    pub fn block(&self, i: usize) -> Schema {
        let schema = &self.schemas[i];
        let Some(live) = self.live.get(i) else {
            return schema.clone();
        };
        if schema.columns.iter().all(|c| live.contains(&c.name)) {
            return schema.clone();
        }
        Schema {
            record: None,
            columns: schema
                .columns
                .iter()
                .filter(|c| live.contains(&c.name))
                .cloned()
                .collect(),
        }
    }
}

/// Where a pipeline reads from.
pub struct SourceNode {
    pub kind: SourceKind,
    /// The record the source declares (`None` for `read_text`).
    pub record: Option<Path>,
    /// The location (files) or the in-memory value (`from_items`, `from_arrow`).
    pub input: Expr,
    /// The format's own named arguments as given: `delimiter` and `header` of `read_csv`,
    /// `size` of `read_images`.
    pub format_options: Vec<(String, Expr)>,
    pub include_paths: bool,
    /// `shuffle = files`: the seed of the file order.
    pub shuffle: Option<Expr>,
    /// `require_success = b`: refuse a directory without the `_SUCCESS` of a finished write.
    pub require_success: Option<Expr>,
    /// The declared columns the pipeline reads (set by projection pushdown).
    pub columns: Vec<String>,
    /// String columns read as dictionaries (set by the dictionary pass).
    pub dictionary: Vec<String>,
    /// Comparisons the reader can use to skip row groups (set by predicate pushdown).
    pub predicates: Vec<Pushed>,
    /// The source as written, for explain.
    pub text: String,
}

/// A comparison of a source column with a value, which the reader checks against row-group
/// statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Pushed {
    pub column: String,
    pub op: Comparison,
    pub value: Scalar,
}

/// `column op value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// A literal value of a pushed-down comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

/// Kinds of source.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SourceKind {
    Parquet,
    Csv,
    Json,
    Ipc,
    Text,
    Items,
    Arrow,
    Images,
    BinaryFiles,
}

/// One stage.
pub struct Node {
    /// The operator's name (`filter`).
    pub name: &'static str,
    /// The stage as written, for explain.
    pub text: String,
    pub op: Box<dyn Operator>,
}

impl Plan {
    /// Where stage `index` is, for its lowering.
    pub fn at(&self, index: usize, segment: String) -> At<'_> {
        At {
            index,
            input: &self.schemas[index],
            output: &self.schemas[index + 1],
            block: self.block(index + 1),
            name: self.stages[index].name,
            text: &self.stages[index].text,
            segment,
        }
    }

    /// The fused loop of stages `start..end`.
    pub fn fused(&self, start: usize, end: usize) -> Loop<'_> {
        Loop {
            input: &self.schemas[start],
            stages: (start..end)
                .map(|i| (&*self.stages[i].op, self.at(i, String::new())))
                .collect(),
        }
    }
}

/// How a stage runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Row by row: it joins the fused loop of its neighbours ([`Operator::fuse`]).
    RowWise,
    /// A runtime stage of its own ([`Operator::alone`]).
    Alone,
    /// It needs all of its input before it yields output: an exchange between two phases
    /// ([`Operator::exchange`]).
    AllToAll,
    /// An all-to-all operator whose input is fed row by row by the loop of the row-wise
    /// stages just before it (the hash aggregate): no block is built between them.
    Fed,
}

/// What a stage does to the rows and values it passes on, for the passes that follow a
/// source column down the pipeline (predicate pushdown, dictionary keys).
pub enum Effect<'a> {
    /// Some of its input's rows, each chosen by its own values (`Some`: a column expression
    /// that must hold), with columns kept or dropped and values unchanged.
    Selects(Option<&'a syn::Expr>),
    /// The input's rows, with these columns computed anew.
    Computes(Vec<&'a str>),
    /// The input's rows, with these columns renamed (from, to).
    Renames(&'a [(String, String)]),
    /// Anything else: new rows or values, or rows chosen by their position.
    Opaque,
}

/// Where a stage is, for its lowering.
#[derive(Clone)]
pub struct At<'a> {
    /// Its position in the plan (names its generated functions).
    pub index: usize,
    pub input: &'a Schema,
    pub output: &'a Schema,
    /// The columns of a block built right after it: `output` less those nothing later reads.
    pub block: Schema,
    /// The operator's name (`filter`).
    pub name: &'static str,
    /// The stage as written (`filter(price > 10)`).
    pub text: &'a str,
    /// Its name in statistics and messages (an aggregate's includes the stages feeding it).
    pub segment: String,
}

/// What an all-to-all operator lowers to.
pub enum Exchange {
    /// A runtime exchange, wrapped in an `ExchangeSource` over the plan before it.
    Exchange(TokenStream),
    /// A source of its own, made from the tokens of the plan before it.
    Source(Box<dyn FnOnce(TokenStream) -> TokenStream>),
}

/// Row-wise stages compiled into one loop over each block of `input`'s columns.
pub struct Loop<'a> {
    pub input: &'a Schema,
    pub stages: Vec<(&'a dyn Operator, At<'a>)>,
}

impl Loop<'_> {
    /// The loop with every stage in it. Its expressions were type-checked with the plan;
    /// here they are only rendered against the values the loop holds.
    pub fn open(&self, records: &mut GeneratedRecords) -> RowLoop {
        let mut lp = RowLoop::open(self.input);
        for (op, at) in &self.stages {
            op.fuse(&mut lp, at, records);
        }
        lp
    }
}

/// One checked stage: what the optimiser asks of it and how it lowers.
pub trait Operator {
    /// How it runs.
    fn kind(&self) -> Kind;

    /// Projection pushdown, walking back from the output: the columns of `input` needed to
    /// make `live`, the columns needed after the stage (which it may widen: a GPU kernel
    /// writes every column it computes). By default all of them: a closure sees whole rows.
    fn needs(&self, input: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        let _ = live;
        input.names().map(str::to_owned).collect()
    }

    /// What it does to rows and values.
    fn effect(&self) -> Effect<'_> {
        Effect::Opaque
    }

    /// The group keys it looks up per row ([`Kind::Fed`]), which may come as dictionaries.
    fn group_keys(&self) -> &[String] {
        &[]
    }

    /// How the physical plan describes it, when it says more than the stage as written.
    fn physical(&self, text: &str) -> Option<String> {
        let _ = text;
        None
    }

    /// Its GPU kernel, if it has one (tests compare kernels with their snapshots).
    #[cfg(test)]
    fn gpu_kernel(&self) -> Option<&crate::ptx::Kernel> {
        None
    }

    /// Add the stage to a fused loop ([`Kind::RowWise`]; a stage of another kind may use its
    /// own loop in its lowering).
    fn fuse(&self, lp: &mut RowLoop, at: &At, records: &mut GeneratedRecords) {
        let _ = (lp, records);
        unreachable!("`{}` does not run in a fused loop", at.name)
    }

    /// The runtime stage ([`Kind::Alone`]): (setup statements, a `Stage`).
    fn alone(&self, at: &At, records: &mut GeneratedRecords) -> (TokenStream, TokenStream) {
        let _ = records;
        unreachable!("`{}` does not run alone", at.name)
    }

    /// The exchange ([`Kind::AllToAll`], [`Kind::Fed`]), fed by `feed` (the loop of the
    /// row-wise stages before it; none unless fed): (setup statements, the exchange).
    fn exchange(
        &self,
        at: &At,
        feed: Loop,
        records: &mut GeneratedRecords,
    ) -> (TokenStream, Exchange) {
        let _ = (feed, records);
        unreachable!("`{}` is no exchange", at.name)
    }
}

/// Where a pipeline writes, when it ends in a sink.
pub struct SinkNode {
    /// `write_parquet`, `write_csv` or `write_json`.
    pub method: syn::Ident,
    pub location: Expr,
    pub rows_per_file: Option<Expr>,
    pub bytes_per_file: Option<Expr>,
    /// Columns whose values become `column=value/` directories.
    pub partition_by: Vec<String>,
    /// `mode = overwrite | append | error_if_exists`, as tokens building a `WriteMode`.
    pub mode: Option<TokenStream>,
    pub text: String,
}
