//! Sources: where blocks come from. A source lists its splits (a file, a part of an in-memory
//! dataset); the executor reads splits in parallel, one task per split.

mod conform;
mod csv;
mod csv_ranges;
mod file;
mod files;
mod json;
mod lines;
mod memory;
mod parquet;
mod predicate;
mod text;

pub use conform::conform;
pub use file::{CsvOptions, FileFormat, FileSource};
pub use files::{FileRows, FilesSource};
pub use memory::MemorySource;
pub use predicate::{CmpOp, Predicate, Scalar};

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::options::ExecOptions;

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
    /// When this source is the output of an all-to-all operator: the pipeline the operator
    /// reads, and the statistics of its last run.
    fn upstream(&self) -> Option<Upstream<'_>> {
        None
    }
}

/// The pipeline an all-to-all operator reads (see [`Source::upstream`]).
pub struct Upstream<'a> {
    pub plan: &'a crate::plan::Plan,
    pub stats: Option<crate::stats::RunStats>,
}

/// One independently readable part of a source.
pub trait Split: Send + Sync {
    /// The name used in errors: a file URL, or `items[3]`.
    fn name(&self) -> Arc<str>;
    /// Read every block, handing each to `emit`; stop early when `emit` returns `false`.
    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()>;
}

/// Run `read`, handing its blocks to `emit`; a panic in the reading (a decoder's, on a damaged
/// file: arrow-rs and the image crates assert on some inputs) is an error naming the file,
/// while a panic past `emit` (a stage's) goes on unwinding, to be reported as the stage's.
pub(crate) fn guarded(
    url: &str,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
    read: impl FnOnce(&mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()>,
) -> Result<()> {
    let in_emit = std::cell::Cell::new(false);
    let mut inner = |batch: RecordBatch| {
        in_emit.set(true);
        let result = emit(batch);
        in_emit.set(false);
        result
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&mut inner))) {
        Ok(result) => result,
        Err(panic) if in_emit.get() => std::panic::resume_unwind(panic),
        Err(panic) => Err(crate::error::Error::Corrupt {
            url: url.to_owned(),
            reason: format!(
                "the decoder failed: {}",
                crate::error::panic_message(&panic)
            )
            .into(),
        }),
    }
}
