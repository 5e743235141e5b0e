//! The physical plan a `pipeline!` expands to: a source, then stages over blocks; and the
//! `Source` and `Split` traits every source implements (the sources themselves are in `source/`).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{Result, StageError};
use crate::options::ExecOptions;
use crate::pool::PoolSpec;

/// A function over one block.
pub type BlockFn = dyn Fn(RecordBatch) -> Result<RecordBatch, StageError> + Send + Sync;

/// One physical operator.
#[derive(Clone)]
pub enum Stage {
    /// Fused narrow stages: one generated function per block.
    Map {
        /// The logical stages fused into it, for messages (`filter → with_column`).
        name: Arc<str>,
        /// The generated function.
        func: Arc<BlockFn>,
    },
    /// A user function over batches of at most `batch_size` rows cut from each block.
    MapBatches {
        name: Arc<str>,
        batch_size: Option<usize>,
        func: Arc<BlockFn>,
    },
    /// Keep the first `n` rows, in order, then stop reading.
    Limit(usize),
    /// A `map_batches` stage whose calls go through a pool of workers (a stateful type, or a
    /// function with bounded concurrency); each run makes its own pool.
    Pooled {
        name: Arc<str>,
        batch_size: Option<usize>,
        spec: Arc<PoolSpec>,
    },
}

impl Stage {
    /// The stage's name in messages.
    pub fn name(&self) -> String {
        match self {
            Stage::Map { name, .. }
            | Stage::MapBatches { name, .. }
            | Stage::Pooled { name, .. } => name.to_string(),
            Stage::Limit(n) => format!("limit({n})"),
        }
    }
}

/// Everything needed to run and explain a pipeline.
pub struct Plan {
    /// Where blocks come from.
    pub source: Arc<dyn Source>,
    /// Operators applied in order.
    pub stages: Vec<Stage>,
    /// The output schema.
    pub schema: SchemaRef,
    /// The logical plan, one line per stage, rendered at compile time.
    pub logical: String,
    /// The physical plan (fused stages), rendered at compile time.
    pub physical: String,
}

impl Plan {
    /// The index of the first `limit` (the stages from it on run on the consumer, in order),
    /// or the number of stages.
    pub(crate) fn first_limit(&self) -> usize {
        self.stages
            .iter()
            .position(|s| matches!(s, Stage::Limit(_)))
            .unwrap_or(self.stages.len())
    }
}

/// A source of blocks: cheap to describe, lists its splits when a run starts.
pub trait Source: Send + Sync {
    /// One line for `explain()`.
    fn describe(&self) -> String;
    /// The splits to read, in order. Listing happens here, when a run starts.
    fn splits(&self, options: &ExecOptions) -> Result<Vec<Box<dyn Split>>>;
    /// What the source would read, as names (for checkpoint fingerprints): by default its
    /// splits' names; file sources list their files without opening them.
    fn listing(&self, options: &ExecOptions) -> Result<Vec<String>> {
        Ok(self
            .splits(options)?
            .iter()
            .map(|s| s.name().to_string())
            .collect())
    }
    /// Whether the output's order is its splits' order, each split in order (the ranges of a
    /// sort): consumers then take blocks split by split, as with `preserve_order`, so what
    /// comes out sorted stays sorted.
    fn ordered(&self) -> bool {
        false
    }
    /// What the source fetches from a remote store in the run whose splits it listed last.
    fn fetched(&self) -> Option<Arc<crate::stats::FetchCounter>> {
        None
    }
    /// When this source is the output of an all-to-all operator: the pipeline the operator
    /// reads, and the statistics of its last run.
    fn upstream(&self) -> Option<Upstream<'_>> {
        None
    }
}

/// The pipeline an all-to-all operator reads (see [`Source::upstream`]).
pub struct Upstream<'a> {
    pub plan: &'a Plan,
    pub stats: Option<crate::stats::RunStats>,
}

/// One independently readable part of a source.
pub trait Split: Send + Sync {
    /// The name used in errors: a file URL, or `items[3]`.
    fn name(&self) -> Arc<str>;
    /// Read every block, handing each to `emit`; stop early when `emit` returns `false`.
    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()>;
}
