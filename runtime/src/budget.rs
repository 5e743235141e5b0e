//! The memory budget: bytes of blocks in flight between the workers and the consumer.
//!
//! A worker acquires a block's bytes before handing the block on, and waits while the budget is
//! full — that wait is the backpressure that keeps memory bounded whatever the input size. The
//! consumer releases the bytes when it hands the block to the user.
//!
//! Ordering makes a naive budget deadlock: the consumer waits for the *head* split (the next in
//! source order) while blocks of later splits fill the budget. So later splits keep headroom of
//! the largest block seen (they are admitted only if that much stays free), and a head-split
//! block is always admitted when no other head block is in flight. The budget is therefore
//! exceeded only when a head block is larger than every block before it, by at most that
//! block; a budget smaller than one block degrades to one block at a time, never a hang.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::sync::Recover;

/// The bytes a block holds, counting only the rows it covers: a slice of a big block (from
/// `limit`, `map_batches` batching or cutting) counts its share, not the whole buffers.
pub fn block_bytes(block: &arrow::record_batch::RecordBatch) -> usize {
    block
        .columns()
        .iter()
        .map(|column| {
            column
                .to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| column.get_array_memory_size())
        })
        .sum()
}

/// How a run's memory budget is shared out: the one place that says what each part of a job
/// may hold.
#[derive(Clone, Copy)]
pub(crate) struct Shares {
    budget: usize,
    threads: usize,
}

impl Shares {
    pub(crate) fn of(options: &crate::options::ExecOptions) -> Self {
        Self {
            budget: options.memory_budget.max(1),
            threads: options.threads.max(1),
        }
    }

    /// What an exchange's first phase holds, all splits together, before it spills: half the
    /// budget; the other half is the blocks in flight of the run that feeds it.
    pub(crate) fn exchange_held(self) -> usize {
        self.budget / 2
    }

    /// What one worker gathers before handing it to the exchange (a partial aggregate table,
    /// a run to sort): an eighth of its share, at least `floor`. Sorting a run holds it three
    /// times (the blocks, concatenated, sorted).
    pub(crate) fn worker_buffer(self, floor: usize) -> usize {
        (self.budget / (8 * self.threads)).max(floor)
    }

    /// One output split of merged aggregate partitions: merging holds their states about three
    /// times over (the table, its growth, the sorted groups), in every worker at once.
    pub(crate) fn merged_split(self) -> usize {
        (self.budget / (12 * self.threads)).max(64 << 10)
    }

    /// A merge of sorted runs reads one block of every run at once: that many bytes of blocks.
    pub(crate) fn merge_fan_in(self) -> usize {
        self.budget / 4
    }

    /// How many workers that each declare `bytes` of memory fit.
    pub(crate) fn workers_of(self, bytes: usize) -> usize {
        (self.budget / bytes.max(1)).max(1)
    }
}

/// Bytes of blocks in flight, bounded.
pub struct MemoryBudget {
    limit: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    used: usize,
    head_blocks: usize,
    largest: usize,
    high_water: usize,
}

/// How a block was admitted, to release it the same way.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    bytes: usize,
    as_head: bool,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// Wait until `bytes` may be in flight; `is_head` says whether the block belongs to the split
    /// the consumer needs next. `None` when the run was cancelled while waiting.
    pub fn acquire(
        &self,
        bytes: usize,
        is_head: impl Fn() -> bool,
        cancelled: &AtomicBool,
    ) -> Option<Admitted> {
        let mut state = self.state.lock().recover();
        state.largest = state.largest.max(bytes);
        loop {
            if cancelled.load(Ordering::Relaxed) {
                return None;
            }
            let as_head = is_head();
            let admit = if as_head {
                state.used + bytes <= self.limit || state.head_blocks == 0
            } else {
                state.used + bytes + state.largest <= self.limit
            };
            if admit {
                state.used += bytes;
                state.head_blocks += usize::from(as_head);
                state.high_water = state.high_water.max(state.used);
                return Some(Admitted { bytes, as_head });
            }
            // Woken by a release; the timeout re-checks cancellation and head changes.
            state = self
                .freed
                .wait_timeout(state, Duration::from_millis(20))
                .recover()
                .0;
        }
    }

    /// The consumer took the block.
    pub fn release(&self, admitted: Admitted) {
        let mut state = self.state.lock().recover();
        state.used -= admitted.bytes;
        state.head_blocks -= usize::from(admitted.as_head);
        drop(state);
        self.freed.notify_all();
    }

    /// Wake waiting workers: the head moved on, or the run stops.
    pub fn head_changed(&self) {
        self.freed.notify_all();
    }

    /// The most bytes that were in flight at once.
    pub fn high_water(&self) -> usize {
        self.state.lock().recover().high_water
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_splits_keep_headroom_and_the_head_always_progresses() {
        let budget = MemoryBudget::new(100);
        let never = AtomicBool::new(false);
        let a = budget.acquire(40, || false, &never).unwrap();
        // 40 used + 40 asked + 40 headroom > 100: a later split must wait, the head need not.
        let head = budget.acquire(40, || true, &never).unwrap();
        assert_eq!(budget.high_water(), 80);
        budget.release(a);
        budget.release(head);
        // A block bigger than the whole budget still goes, alone, for the head.
        let huge = budget.acquire(500, || true, &never).unwrap();
        budget.release(huge);
        assert_eq!(budget.high_water(), 500);
    }

    #[test]
    fn a_cancelled_wait_returns() {
        let budget = MemoryBudget::new(10);
        let cancelled = AtomicBool::new(true);
        assert!(budget.acquire(50, || false, &cancelled).is_none());
    }
}
