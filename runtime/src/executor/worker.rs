//! A worker: claims splits in order, reads each, runs the stages over its blocks, and hands the
//! results on — to the consumer under the memory budget, or in collect mode to the split's part
//! of a collector.

use std::sync::atomic::Ordering;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, Sender};

use super::{Message, Shared, SplitRun};
use crate::collect::PartError;
use crate::error::{BlockId, Error, Result, guard_stage};
use crate::source::Split;
use crate::stats::Timer;

/// Claim and run splits until none is left or the run is cancelled.
pub(super) fn run(shared: &Shared, tx: &Sender<Message>, tickets: &Receiver<()>, output_op: usize) {
    loop {
        // A ticket bounds how far reading runs ahead of the consumer; a cancelled run sends
        // tickets to wake waiting workers, so look at cancellation after the wait too.
        if tickets.recv().is_err() || shared.cancelled.load(Ordering::Relaxed) {
            return;
        }
        let index = shared.next_split.fetch_add(1, Ordering::Relaxed);
        let Some(split) = shared.splits.get(index) else {
            return;
        };
        let message = match run_split(shared, tx, index, split.as_ref(), output_op) {
            Ok(Some(part)) => Message::Collected { split: index, part },
            Ok(None) => Message::SplitDone { split: index },
            Err(e) => {
                tracing::warn!(split = index, error = %e, "split failed");
                Message::Failed(e)
            }
        };
        let failed = matches!(message, Message::Failed(_));
        if tx.send(message).is_err() || failed {
            return;
        }
    }
}

/// Read one split and run the stages over it.
fn run_split(
    shared: &Shared,
    tx: &Sender<Message>,
    index: usize,
    split: &dyn Split,
    output_op: usize,
) -> Result<Option<Box<dyn std::any::Any + Send>>> {
    let stats = &shared.stats;
    let name = split.name();
    let _span = tracing::debug_span!("split", split = %name).entered();
    let mut block: usize;
    let mut run = SplitRun::new(&shared.stages, stats, 1);
    // The operator whose output waits when the budget is full.
    let last_op = shared.stages.len();
    let mut out = Vec::new();
    let mut part = shared.collector.as_ref().map(|c| c.part(index));
    let collector_name = || {
        shared
            .collector
            .as_ref()
            .map(|c| c.describe())
            .unwrap_or_default()
    };
    let mut deliver = |out: &mut Vec<RecordBatch>, id: &BlockId| -> Result<bool> {
        for batch in out
            .drain(..)
            .flat_map(|b| cut(b, shared.target_block_bytes))
        {
            match &mut part {
                Some(part) => {
                    let timer = Timer::start();
                    let (rows, bytes) = (batch.num_rows(), batch.get_array_memory_size());
                    let pushed = guard_stage(collector_name, id, || part.push(batch), part_error);
                    stats.work_sized(output_op, (rows, bytes), &[], timer.stop());
                    pushed?;
                }
                None => {
                    let bytes = crate::budget::block_bytes(&batch);
                    let is_head = || shared.is_head(index);
                    let waiting = Instant::now();
                    let admitted = shared.budget.acquire(bytes, is_head, &shared.cancelled);
                    let sent = admitted.is_some_and(|admitted| {
                        tx.send(Message::Block {
                            split: index,
                            batch,
                            admitted,
                        })
                        .is_ok()
                    });
                    stats.blocked(last_op, waiting.elapsed());
                    if !sent {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    };
    // The source's time is the time between the blocks it hands over.
    let mut reading = Timer::start();
    // Blocks of the split already through the stages: a read retried after a transient
    // failure skips them, so none is delivered twice.
    let mut delivered = 0;
    let mut attempt = 0;
    loop {
        // Whether the failure came from a stage or the output rather than from reading.
        let mut downstream: Option<Error> = None;
        block = 0;
        let read = split.read(&mut |batch| {
            let position = block;
            block += 1;
            if position < delivered {
                return Ok(true);
            }
            stats.work(0, None, std::slice::from_ref(&batch), reading.stop());
            let id = BlockId {
                split: name.clone(),
                block: position,
            };
            let rows = batch.num_rows();
            delivered = block;
            if let Err(error) = run.push(batch, &id, &mut out) {
                // A stage failed on this block: skip it if the budget allows.
                out.clear();
                if !shared.errored(&id, Some(rows), &error) {
                    downstream = Some(error);
                    return Ok(false);
                }
            }
            let go_on = match deliver(&mut out, &id) {
                Ok(go_on) => go_on,
                Err(error) => {
                    downstream = Some(error);
                    return Ok(false);
                }
            };
            reading = Timer::start();
            Ok(go_on && !shared.cancelled.load(Ordering::Relaxed))
        });
        if let Some(error) = downstream {
            return Err(error);
        }
        match read {
            Ok(()) => break,
            Err(error) if error.is_transient() && attempt < shared.retry.retries => {
                attempt += 1;
                let wait = shared.retry.delay(attempt);
                tracing::warn!(split = %name, %error, attempt, "retrying the split's read");
                std::thread::sleep(wait);
            }
            Err(error) => {
                // The rest of the split cannot be read: skip it if the budget allows.
                let id = BlockId {
                    split: name.clone(),
                    block: delivered,
                };
                if shared.errored(&id, None, &error) {
                    break;
                }
                return Err(error);
            }
        }
    }
    stats.busy(0, reading.stop());
    let id = BlockId {
        split: name.clone(),
        block: block.saturating_sub(1),
    };
    run.finish(&id, &mut out)?;
    deliver(&mut out, &id)?;
    let Some(part) = part else {
        return Ok(None);
    };
    let timer = Timer::start();
    let finished = guard_stage(collector_name, &id, || part.finish(), |e, _, _| e)?;
    stats.busy(output_op, timer.stop());
    Ok(Some(finished))
}

/// A part's error with the stage and block it happened at.
fn part_error(error: PartError, stage: String, id: &BlockId) -> Error {
    match error {
        PartError::Done(error) => error,
        PartError::Stage(error) => error.at(stage, id),
    }
}

/// `block` in slices of at most `target` bytes (by its average row size), sharing its buffers.
fn cut(block: RecordBatch, target: usize) -> Vec<RecordBatch> {
    // The buffers' size bounds the rows' size from above: most blocks stop here.
    if block.get_array_memory_size() <= target || block.num_rows() <= 1 {
        return vec![block];
    }
    let bytes = crate::budget::block_bytes(&block);
    let rows = block.num_rows();
    if bytes <= target {
        return vec![block];
    }
    let per_slice = (rows * target / bytes).max(1);
    (0..rows)
        .step_by(per_slice)
        .map(|start| block.slice(start, per_slice.min(rows - start)))
        .collect()
}
