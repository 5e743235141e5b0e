//! The consumer's side: blocks as they come, or put back in source order, then the stages
//! from the first `limit` on. Dropping the stream cancels the run.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, Sender};

use super::{Message, Shared, SplitRun};
use crate::budget::Admitted;
use crate::error::{BlockId, Result};
use crate::plan::{Plan, Stage};
use crate::stats::{RunStats, Timer};

/// The blocks a plan produces (in source order with `preserve_order`).
pub struct BlockStream {
    shared: Arc<Shared>,
    messages: Receiver<Message>,
    tickets: Sender<()>,
    /// Blocks of splits after the current one, waiting for their turn.
    pending: HashMap<usize, (VecDeque<(RecordBatch, Admitted)>, bool)>,
    current: usize,
    /// Splits finished, when blocks are taken as they come.
    splits_done: usize,
    tail: Vec<Stage>,
    /// The statistics operator of `tail[0]`.
    tail_op: usize,
    output_op: usize,
    /// Rows each `limit` of the tail still lets through.
    limit_left: Vec<usize>,
    ready: VecDeque<RecordBatch>,
    done: bool,
}

impl BlockStream {
    pub(super) fn new(
        shared: Arc<Shared>,
        messages: Receiver<Message>,
        tickets: Sender<()>,
        plan: &Plan,
        first_limit: usize,
        tail: Vec<Stage>,
    ) -> Self {
        BlockStream {
            messages,
            tickets,
            pending: HashMap::new(),
            current: 0,
            splits_done: 0,
            limit_left: tail
                .iter()
                .map(|s| {
                    if let Stage::Limit(n) = s {
                        *n
                    } else {
                        usize::MAX
                    }
                })
                .collect(),
            tail,
            tail_op: first_limit + 1,
            output_op: shared.output_op(plan.stages.len()),
            shared,
            ready: VecDeque::new(),
            done: false,
        }
    }

    /// The most bytes of blocks that were in flight at once so far (bounded by the memory
    /// budget, see `budget.rs`).
    pub fn peak_bytes_in_flight(&self) -> usize {
        self.shared.budget.high_water()
    }

    /// The run's statistics so far.
    pub fn stats(&self) -> RunStats {
        self.shared.stats.snapshot(self.peak_bytes_in_flight())
    }

    /// The next block from the workers, or `None` when the run is over.
    fn next_block(&mut self) -> Option<Result<RecordBatch>> {
        if self.shared.preserve_order {
            return self.next_ordered();
        }
        loop {
            if self.splits_done >= self.shared.splits.len() {
                return None;
            }
            match self.receive() {
                Ok(Message::Block {
                    batch, admitted, ..
                }) => {
                    self.shared.budget.release(admitted);
                    return Some(Ok(batch));
                }
                Ok(Message::SplitDone { .. }) => {
                    self.splits_done += 1;
                    let _ = self.tickets.try_send(());
                }
                Ok(Message::Collected { .. }) => {
                    unreachable!("workers stream blocks in stream mode")
                }
                Ok(Message::Failed(error)) => return Some(Err(error)),
                Err(_) => return None,
            }
        }
    }

    /// The next message, counting the wait as the consumer's.
    fn receive(&mut self) -> Result<Message, crossbeam_channel::RecvError> {
        let waiting = Instant::now();
        let message = self.messages.recv();
        self.shared.stats.waited(self.output_op, waiting.elapsed());
        message
    }

    /// The next block of the current split, in order, or `None` when the run is over.
    fn next_ordered(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if let Some((blocks, finished)) = self.pending.get_mut(&self.current) {
                if let Some((batch, admitted)) = blocks.pop_front() {
                    self.shared.budget.release(admitted);
                    return Some(Ok(batch));
                }
                if *finished {
                    self.pending.remove(&self.current);
                    self.current += 1;
                    self.shared.head.store(self.current, Ordering::Relaxed);
                    self.shared.budget.head_changed();
                    let _ = self.tickets.try_send(());
                    continue;
                }
            }
            if self.current >= self.shared.splits.len() {
                return None;
            }
            match self.receive() {
                Ok(Message::Block {
                    split,
                    batch,
                    admitted,
                }) => self
                    .pending
                    .entry(split)
                    .or_default()
                    .0
                    .push_back((batch, admitted)),
                Ok(Message::SplitDone { split }) => self.pending.entry(split).or_default().1 = true,
                Ok(Message::Collected { .. }) => {
                    unreachable!("workers stream blocks in stream mode")
                }
                Ok(Message::Failed(error)) => return Some(Err(error)),
                Err(_) => return None,
            }
        }
    }

    /// Apply the consumer-side stages (from the first limit on) to one block. Stages between
    /// limits run block by block here (no carry-over: their input is already in order).
    fn run_tail(&mut self, batch: RecordBatch) -> Result<()> {
        let stats = &self.shared.stats;
        let mut blocks = vec![batch];
        for (index, stage) in self.tail.iter().enumerate() {
            let op = self.tail_op + index;
            let mut next = Vec::new();
            for block in blocks {
                if let Stage::Limit(_) = stage {
                    let timer = Timer::start();
                    let left = &mut self.limit_left[index];
                    let take = (*left).min(block.num_rows());
                    *left -= take;
                    let kept: Vec<RecordBatch> = (take > 0)
                        .then(|| block.slice(0, take))
                        .into_iter()
                        .collect();
                    stats.work(op, Some(&block), &kept, timer.stop());
                    next.extend(kept);
                } else {
                    let id = BlockId {
                        split: "the ordered output".into(),
                        block: 0,
                    };
                    let mut run = SplitRun::new(std::slice::from_ref(stage), stats, op);
                    run.push(block, &id, &mut next)?;
                    run.finish(&id, &mut next)?;
                }
            }
            blocks = next;
        }
        self.ready.extend(blocks);
        Ok(())
    }

    fn limit_reached(&self) -> bool {
        self.limit_left.contains(&0)
    }

    /// The run is over for the consumer: stop the workers and publish final statistics.
    fn finish(&mut self) {
        self.done = true;
        self.shared.stop(&self.messages, &self.tickets);
    }
}

impl Iterator for BlockStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                self.shared.stats.work(
                    self.output_op,
                    Some(&batch),
                    std::slice::from_ref(&batch),
                    (Duration::ZERO, Duration::ZERO),
                );
                return Some(Ok(batch));
            }
            if self.done || self.limit_reached() {
                self.finish();
                return None;
            }
            match self.next_block() {
                Some(Ok(batch)) => {
                    if let Err(e) = self.run_tail(batch) {
                        self.finish();
                        return Some(Err(e));
                    }
                }
                Some(Err(e)) => {
                    self.finish();
                    return Some(Err(e));
                }
                None => self.done = true,
            }
        }
    }
}

impl Drop for BlockStream {
    fn drop(&mut self) {
        self.shared.stop(&self.messages, &self.tickets);
    }
}
