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
