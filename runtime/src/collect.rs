//! Collectors: what workers hand each split's output to when a run does not stream blocks to
//! a consumer — a file sink, or the first phase of an all-to-all operator (partial
//! aggregates, partitioned rows). Each split gets its own part, filled by the worker that reads
//! the split; the parts come back to the caller in split order.

use std::any::Any;

use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// Takes the output of every split of a run, in parallel.
pub trait Collector: Send + Sync {
    /// The operator's name in statistics and messages.
    fn describe(&self) -> String;
    /// The part that takes split `split`'s blocks.
    fn part(&self, split: usize) -> Box<dyn CollectPart + '_>;
}

/// One split's share of a collector.
pub trait CollectPart: Send {
    /// Take one block. An `Err` string is reported with the block's position.
    fn push(&mut self, batch: RecordBatch) -> Result<(), PartError>;
    /// The split has ended: what this part made, for the caller to downcast.
    fn finish(self: Box<Self>) -> Result<Box<dyn Any + Send>>;
}

/// Why a part could not take a block.
#[derive(Debug)]
pub enum PartError {
    /// A failure the executor reports with the stage and block (columns, a user error).
    Stage(crate::error::StageError),
    /// A failure that already says where it happened (a file that could not be written).
    Done(crate::error::Error),
}

impl From<crate::error::Error> for PartError {
    fn from(error: crate::error::Error) -> Self {
        PartError::Done(error)
    }
}

impl From<String> for PartError {
    fn from(message: String) -> Self {
        PartError::Stage(crate::error::StageError::Columns(message))
    }
}
