//! Sources: where blocks come from. A source lists its splits (a file, a part of an in-memory
//! dataset); the executor reads splits in parallel, one task per split.

mod conform;
mod csv;
mod csv_ranges;
mod file;
mod files;
mod ipc;
mod json;
mod lines;
mod memory;
mod parquet;
mod partitions;
mod predicate;
mod text;

pub use conform::conform;
pub use file::{CsvOptions, FileFormat, FileSource};
pub use files::{FileRows, FilesSource};
pub use memory::MemorySource;
pub use predicate::{CmpOp, Predicate, Scalar};
// The traits live with the plan that holds a source; the implementations are here.
pub use crate::plan::{Source, Split, Upstream};

use arrow::record_batch::RecordBatch;

use crate::error::Result;

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
