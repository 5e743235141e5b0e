//! Collectors: what workers hand each split's output to when a run does not stream blocks to
//! a consumer — a file sink, or the first phase of an all-to-all operator (partial
//! aggregates, partitioned rows). Each split gets its own part, filled by the worker that reads
//! the split; what the parts make comes back to the caller in split order, typed.

use std::any::Any;

use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// Takes the output of every split of a run, in parallel.
pub trait Collector: Send + Sync {
    /// What one split's part makes when its split ends.
    type Made: Send + 'static;
    /// The operator's name in statistics and messages.
    fn describe(&self) -> String;
    /// The part that takes split `split`'s blocks.
    fn part(&self, split: usize) -> Box<dyn CollectPart<Made = Self::Made> + '_>;
}

/// One split's share of a collector.
pub trait CollectPart: Send {
    type Made;
    /// Take one block.
    fn push(&mut self, batch: RecordBatch) -> Result<(), PartError>;
    /// The split has ended: what this part made.
    fn finish(self: Box<Self>) -> Result<Self::Made>;
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

/// A collector as the workers hold it, whatever its parts make: the executor's channel
/// carries one type, and `executor::collect_each` gives back the collector's own.
pub(crate) trait AnyCollector: Send + Sync {
    fn describe(&self) -> String;
    fn part(&self, split: usize) -> Box<dyn AnyPart + '_>;
}

/// A part of an [`AnyCollector`].
pub(crate) trait AnyPart: Send {
    fn push(&mut self, batch: RecordBatch) -> Result<(), PartError>;
    fn finish(self: Box<Self>) -> Result<Box<dyn Any + Send>>;
}

impl<C: Collector> AnyCollector for C {
    fn describe(&self) -> String {
        Collector::describe(self)
    }

    fn part(&self, split: usize) -> Box<dyn AnyPart + '_> {
        Box::new(Typed(Collector::part(self, split)))
    }
}

struct Typed<'a, M>(Box<dyn CollectPart<Made = M> + 'a>);

impl<M: Send + 'static> AnyPart for Typed<'_, M> {
    fn push(&mut self, batch: RecordBatch) -> Result<(), PartError> {
        self.0.push(batch)
    }

    fn finish(self: Box<Self>) -> Result<Box<dyn Any + Send>> {
        Ok(Box::new(self.0.finish()?))
    }
}
