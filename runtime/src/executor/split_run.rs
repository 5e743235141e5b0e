//! The stages applied to the blocks of one split, in order, with user panics caught per block.
//! `map_batches` stages with a batch size carry rows over from one block to the next, so their
//! batches have exactly that many rows; only the split's last batch may be smaller.

use arrow::record_batch::RecordBatch;

use crate::carry::Carry;
use crate::error::{BlockId, Result, StageError, guard_stage};
use crate::plan::{BlockFn, Stage};
use crate::stats::{Recorder, Timer};

/// The state of the stages over one split.
pub struct SplitRun<'a> {
    stages: &'a [Stage],
    /// Rows each `map_batches` stage with a batch size holds for its next batch.
    carry: Vec<Carry>,
    stats: &'a Recorder,
    /// The statistics operator of `stages[0]`.
    first_op: usize,
}

impl<'a> SplitRun<'a> {
    /// A run of `stages` over one split, recording into `stats` from operator `first_op` on.
    pub(crate) fn new(stages: &'a [Stage], stats: &'a Recorder, first_op: usize) -> Self {
        Self {
            stages,
            carry: (0..stages.len()).map(|_| Carry::default()).collect(),
            stats,
            first_op,
        }
    }

    /// Push one block through; finished blocks are appended to `out`.
    pub fn push(
        &mut self,
        block: RecordBatch,
        id: &BlockId,
        out: &mut Vec<RecordBatch>,
    ) -> Result<()> {
        self.run_from(0, block, id, out)
    }

    /// Flush what `map_batches` stages still hold (the split has ended).
    pub fn finish(&mut self, id: &BlockId, out: &mut Vec<RecordBatch>) -> Result<()> {
        for index in 0..self.stages.len() {
            let Some(batch) = self.carry[index].take_all()? else {
                continue;
            };
            let Stage::MapBatches { func, .. } = &self.stages[index] else {
                unreachable!("only map_batches carries rows")
            };
            let result = self.call(index, func.as_ref(), batch, id)?;
            self.run_from(index + 1, result, id, out)?;
        }
        Ok(())
    }

    fn run_from(
        &mut self,
        start: usize,
        block: RecordBatch,
        id: &BlockId,
        out: &mut Vec<RecordBatch>,
    ) -> Result<()> {
        let mut blocks = vec![block];
        for index in start..self.stages.len() {
            let mut next = Vec::with_capacity(blocks.len());
            for block in blocks {
                match &self.stages[index] {
                    Stage::Map { func, .. }
                    | Stage::MapBatches {
                        batch_size: None,
                        func,
                        ..
                    } => next.push(self.call(index, func.as_ref(), block, id)?),
                    Stage::MapBatches {
                        batch_size: Some(size),
                        func,
                        ..
                    } => {
                        let size = (*size).max(1);
                        self.carry[index].push(block);
                        while self.carry[index].rows() >= size {
                            let batch = self.carry[index].cut(size)?;
                            next.push(self.call(index, func.as_ref(), batch, id)?);
                        }
                    }
                    Stage::Limit(_) => unreachable!("limits run on the consumer"),
                    Stage::Pooled { .. } => unreachable!("runs get their pools first (for_run)"),
                }
            }
            blocks = next;
        }
        out.extend(blocks);
        Ok(())
    }

    /// Call stage `index`'s function on one block, timing it and turning a panic into an error.
    fn call(
        &self,
        index: usize,
        func: &BlockFn,
        block: RecordBatch,
        id: &BlockId,
    ) -> Result<RecordBatch> {
        let stage = &self.stages[index];
        let (rows, bytes) = (block.num_rows(), block.get_array_memory_size());
        let timer = Timer::start();
        let out = guard_stage(|| stage.name(), id, || func(block), StageError::at);
        let time = timer.stop();
        let out = out?;
        self.stats.work_sized(
            self.first_op + index,
            (rows, bytes),
            std::slice::from_ref(&out),
            time,
        );
        Ok(out)
    }
}
