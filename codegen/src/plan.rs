//! The checked logical plan: one node per stage, with the schema after every stage.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use syn::{Expr, Path, Type};

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
    /// CSV options as given (`delimiter`, `header`), or `size` of `read_images`.
    pub csv: Vec<(String, Expr)>,
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
    pub predicates: Vec<crate::optimize::predicate::Pushed>,
    /// The source as written, for explain.
    pub text: String,
}

/// Kinds of source.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SourceKind {
    Parquet,
    Csv,
    Json,
    Text,
    Items,
    Arrow,
    Images,
    BinaryFiles,
}

/// One stage.
pub struct Node {
    pub name: &'static str,
    /// The stage as written, for explain.
    pub text: String,
    pub kind: NodeKind,
}

/// What a stage does.
pub enum NodeKind {
    /// Keep rows where the expression is true.
    Filter(Expr),
    /// Keep rows where the closure, given `&Record`, returns true.
    FilterFn { func: Expr, input: Option<Path> },
    /// Add or replace columns, each computed from the input's columns (`with_column`,
    /// `with_columns`); with `gpu`, a stage of its own whose kernel is lowered to PTX.
    WithColumns {
        columns: Vec<NewColumn>,
        gpu: Option<Gpu>,
    },
    /// Keep these columns, in this order.
    Select(Vec<String>),
    /// Remove these columns.
    Drop(Vec<String>),
    /// Rename `from` to `to`.
    Rename(Vec<(String, String)>),
    /// One output record per input record. `input` names the record the closure takes when
    /// the columns are not a declared record's (else a record is generated).
    Map { func: Expr, input: Option<Path> },
    /// Any number of output records per input record.
    FlatMap { func: Expr, input: Option<Path> },
    /// A user function over batches (`RecordBatch` or `Vec<Record>`), or a stateful type.
    MapBatches {
        func: Expr,
        batch_size: Option<Expr>,
        /// Extra arguments passed after the batch (a function), or the constructor's
        /// arguments (a stateful type).
        args: Vec<Expr>,
        input: Option<Path>,
        /// `compute = actors(..)` or `tasks(n)`.
        compute: Option<Box<Compute>>,
        /// `num_cpus`, `num_gpus`, `memory` per worker.
        resources: Vec<(String, Expr)>,
    },
    /// The first n rows.
    Limit(Expr),
    /// `groupby(keys) |> aggregate(...)`, `aggregate(...)` (no keys) or `unique(column)`.
    Aggregate {
        keys: Vec<String>,
        aggregates: Vec<Aggregate>,
    },
    /// `groupby(keys) |> map_groups(f)`.
    MapGroups {
        keys: Vec<String>,
        func: Expr,
        input: Option<Path>,
    },
    /// An all-to-all operator over whole rows that keeps the columns.
    Rows(RowsOp),
    /// `zip::<R>(other)`: the columns of dataset `other` (of record `R`) beside these.
    Zip { other: Expr, record: Path },
}

/// A column computed by `with_column(s)`.
pub struct NewColumn {
    pub name: String,
    pub ltype: crate::types::LType,
    /// The declared type, if any.
    pub ty: Option<Box<Type>>,
    pub expr: Expr,
}

/// A `with_columns(.., num_gpus = n)` stage's GPU side.
pub struct Gpu {
    /// GPUs per worker.
    pub gpus: Expr,
    /// `cpu_fallback = false` (default true).
    pub cpu_fallback: Option<Expr>,
    /// The expressions as one PTX kernel.
    pub kernel: Box<crate::ptx::Kernel>,
}

/// How a `map_batches` stage's calls are spread (see the runtime's `pool` module).
pub enum Compute {
    /// A stateful type: `actors(n)` or `actors(min, max)`.
    Actors { min: Expr, max: Expr },
    /// A function, at most n calls at once: `tasks(n)`.
    Tasks(Expr),
}

/// All-to-all operators that move rows without computing.
pub enum RowsOp {
    /// Columns with (descending, nulls first).
    Sort(Vec<(String, bool, bool)>),
    RandomShuffle(Expr),
    RandomizeBlockOrder(Expr),
    Repartition(Expr),
}

/// One output column of an aggregate.
pub struct Aggregate {
    /// The output column.
    pub output: crate::schema::Column,
    pub func: AggregateFn,
    /// The input column (`None` for `count()`).
    pub input: Option<crate::schema::Column>,
}

/// Which aggregate.
pub enum AggregateFn {
    Count,
    Sum,
    Min,
    Max,
    Mean,
    Std(Option<Expr>),
    AbsMax,
    Quantile(Expr),
    Unique,
    First,
    Last,
    /// A user's `Aggregator` value.
    Custom(Expr),
}

impl NodeKind {
    /// Whether the stage works row by row (and can join a fused loop).
    pub fn is_row_wise(&self) -> bool {
        !matches!(
            self,
            NodeKind::MapBatches { .. }
                | NodeKind::WithColumns { gpu: Some(_), .. }
                | NodeKind::Limit(_)
                | NodeKind::Aggregate { .. }
                | NodeKind::MapGroups { .. }
                | NodeKind::Rows(_)
                | NodeKind::Zip { .. }
        )
    }

    /// Whether the stage needs all of its input before it yields output.
    pub fn is_all_to_all(&self) -> bool {
        matches!(
            self,
            NodeKind::Aggregate { .. }
                | NodeKind::MapGroups { .. }
                | NodeKind::Rows(_)
                | NodeKind::Zip { .. }
        )
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

/// Tokens of a stage as written, with the spaces `to_string` puts between every token
/// removed where Rust style has none, for explain output.
pub fn compact(tokens: TokenStream) -> String {
    // The compiler's printer breaks long token streams into lines: one line here.
    let text = tokens
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" :: ", "::")
        .replace(":: <", "::<");
    let chars: Vec<char> = text.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '>' || c == '"';
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let redundant = c == ' '
            && ((next == '(' && ident(prev))
                || matches!(next, ',' | ')' | ']' | '.' | ';')
                || matches!(prev, '(' | '[' | '.')
                || (next == '<' && prev.is_alphanumeric() && text[..i].ends_with("::")));
        if !redundant {
            out.push(c);
        }
    }
    let out = tighten_generics(&out.replace("::< ", "::<").replace(" >(", ">("));
    tighten_closures(&out.replace(" : ", ": "))
}

/// `| s : & Sale |` → `|s: &Sale|`: the spaces inside a closure's parameter bars go.
fn tighten_closures(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("| ") {
        let opens_closure =
            rest[..start].trim_end().ends_with(['(', ',']) || rest[..start].ends_with("move ");
        let close = rest[start + 2..].find(" |");
        match close {
            Some(end) if opens_closure && !rest[start + 2..start + 2 + end].contains('|') => {
                out.push_str(&rest[..start]);
                out.push('|');
                out.push_str(&rest[start + 2..start + 2 + end].replace("& ", "&"));
                out.push('|');
                rest = &rest[start + 2 + end + 2..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Vec < Option < f64 > >` → `Vec<Option<f64>>`: angle brackets after a capitalised name
/// (a type) lose their spaces; comparisons such as `price < 10` keep theirs.
fn tighten_generics(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let word_before = out
            .trim_end()
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if rest.starts_with(" <")
            && word_before.starts_with(char::is_uppercase)
            && out.ends_with(word_before)
        {
            out.push('<');
            depth += 1;
            rest = rest[2..].trim_start();
        } else if rest.starts_with("::<") {
            out.push_str("::<");
            depth += 1;
            rest = rest[3..].trim_start();
        } else if depth > 0 && (rest.starts_with(" >") || rest.starts_with('>')) {
            out.push('>');
            depth -= 1;
            rest = rest.trim_start()[1..].trim_start_matches(' ');
            if rest.starts_with(|c: char| c.is_alphanumeric() || c == '{' || c == '|') {
                out.push(' ');
            }
        } else if depth > 0 && rest.starts_with(" ,") {
            out.push(',');
            rest = &rest[2..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn compacts_stage_text() {
        assert_eq!(
            super::compact(quote!(read_parquet::<Sale>("a", include_paths = true))),
            "read_parquet::<Sale>(\"a\", include_paths = true)"
        );
        assert_eq!(
            super::compact(quote!(filter(price * (qty as f64) > 10.0))),
            "filter(price * (qty as f64) > 10.0)"
        );
        assert_eq!(
            super::compact(quote!(filter(name.starts_with("a")))),
            "filter(name.starts_with(\"a\"))"
        );
    }
}
