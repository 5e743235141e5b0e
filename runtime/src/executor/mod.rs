//! The streaming executor. Splits are read in parallel by worker tasks on a rayon pool
//! (`worker.rs`); each block runs through the stages on the worker that read it
//! (`split_run.rs`); results flow to the consumer through a bounded channel under a memory
//! budget (`crate::budget`) — a full budget blocks the workers, which is the backpressure — and
//! the consumer takes them as they come or, with `preserve_order`, puts them back in source
//! order (`stream.rs`). At most `2 × threads` splits are in flight, so reordering needs bounded
//! memory.
//!
//! Stages from the first `limit` on run on the consumer's thread, in order; reaching the limit
//! cancels the run and the workers stop after their current block. In collect mode there is no
//! consumer: each worker hands the output of the splits it reads to their own parts of a
//! collector (a sink's files, an exchange's first phase: `crate::collect`); the write path
//! (`crate::write`) is built on it.
//!
//! Every run records per-operator statistics (`crate::stats`): operator 0 is the source, then
//! one per stage, then the consumer (or the sink).

mod progress;
mod split_run;
mod stream;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, Sender, bounded};

pub use split_run::SplitRun;
pub use stream::BlockStream;

use crate::budget::{Admitted, MemoryBudget};
use crate::collect::{AnyCollector, Collector};
use crate::error::{Error, Result};
use crate::options::ExecOptions;
use crate::plan::{Plan, Stage};
use crate::source::Split;
use crate::stats::{Recorder, RunStats};
use crate::sync::Recover;

/// Where a finished run leaves its statistics.
pub type StatsSlot = Arc<Mutex<Option<RunStats>>>;

enum Message {
    Block {
        split: usize,
        batch: RecordBatch,
        admitted: Admitted,
    },
    SplitDone {
        split: usize,
    },
    /// In collect mode: what the split's part made of its output.
    Collected {
        split: usize,
        part: Box<dyn std::any::Any + Send>,
    },
    Failed(Error),
}

/// What the workers and the consumer of one run share.
struct Shared {
    splits: Vec<Box<dyn Split>>,
    /// The stages the workers run (all of them, or those before the first `limit`).
    stages: Vec<Stage>,
    /// When set, workers hand each split's output to its own part of this collector.
    collector: Option<Arc<dyn AnyCollector>>,
    next_split: AtomicUsize,
    cancelled: AtomicBool,
    /// Bytes of blocks between the workers and the consumer.
    budget: MemoryBudget,
    /// The split the consumer needs next, when it takes blocks in source order.
    head: AtomicUsize,
    preserve_order: bool,
    target_block_bytes: usize,
    stats: Recorder,
    report: Option<StatsSlot>,
    /// Workers still running.
    active: AtomicUsize,
    /// Whether the final statistics went out.
    published: AtomicBool,
    /// Each worker says here when it leaves, so stopping does not poll.
    exited: (Sender<()>, Receiver<()>),
    retry: crate::retry::RetryPolicy,
    max_errored_blocks: usize,
    /// Blocks skipped under the errored-block budget.
    errored: Mutex<Vec<crate::retry::ErroredBlock>>,
}

impl Shared {
    /// Count a failed block against the errored-block budget: `true` if it may be skipped.
    fn errored(&self, id: &crate::error::BlockId, rows: Option<usize>, error: &Error) -> bool {
        let mut errored = self.errored.lock().recover();
        if errored.len() >= self.max_errored_blocks {
            return false;
        }
        tracing::warn!(split = %id.split, block = id.block, %error, "skipping an errored block");
        errored.push(crate::retry::ErroredBlock {
            split: id.split.to_string(),
            block: id.block,
            rows,
            error: error.to_string(),
        });
        true
    }

    /// Whether a block of split `index` can be consumed as soon as it arrives (see `budget.rs`).
    fn is_head(&self, index: usize) -> bool {
        !self.preserve_order || self.head.load(Ordering::Relaxed) == index
    }

    /// The operator the consumer (or sink) is, in `stats`.
    fn output_op(&self, plan_stages: usize) -> usize {
        plan_stages + 1
    }

    /// Cancel the run and wait for the workers to leave (each finishes its current block),
    /// draining what they still send; then publish the statistics, which are final.
    fn stop(&self, messages: &Receiver<Message>, tickets: &Sender<()>) {
        self.cancelled.store(true, Ordering::Relaxed);
        // Wake workers waiting for room in the budget or for a ticket.
        self.budget.head_changed();
        while self.active.load(Ordering::Acquire) > 0 {
            let _ = tickets.try_send(());
            crossbeam_channel::select! {
                recv(messages) -> message => {
                    if let Ok(Message::Block { admitted, .. }) = message {
                        self.budget.release(admitted);
                    }
                }
                recv(self.exited.1) -> _ => {}
                default(std::time::Duration::from_millis(10)) => {}
            }
        }
        self.publish();
    }

    /// Leave the statistics where the dataset can find them.
    fn publish(&self) {
        if self.published.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut stats = self.stats.snapshot(self.budget.high_water());
        stats.errored_blocks = self.errored.lock().recover().clone();
        if let Some(last) = stats.operators.last() {
            tracing::info!(
                rows = last.rows_in,
                wall_ms = stats.wall.as_millis() as u64,
                "run finished"
            );
        }
        if let Some(slot) = &self.report {
            *slot.lock().recover() = Some(stats);
        }
    }
}

/// Start running `plan`, streaming its blocks in source order.
pub fn execute(
    plan: &Plan,
    options: &ExecOptions,
    report: Option<StatsSlot>,
) -> Result<BlockStream> {
    let first_limit = plan.first_limit();
    let tail = for_run(&plan.stages[first_limit..], options)?;
    let splits = plan.source.splits(options)?;
    let (shared, messages, tickets) =
        start(plan, options, first_limit, None, "output", report, splits)?;
    Ok(BlockStream::new(
        shared,
        messages,
        tickets,
        plan,
        first_limit,
        tail,
    ))
}

/// Run `plan` (which must not hold a `limit`), handing each split's output to its own part of
/// `collector` on the worker that reads it; returns what the parts made, in split order.
pub fn execute_collect<C: Collector + 'static>(
    plan: &Plan,
    options: &ExecOptions,
    collector: Arc<C>,
    report: Option<StatsSlot>,
) -> Result<Vec<C::Made>> {
    let splits = plan.source.splits(options)?;
    let mut parts = Vec::with_capacity(splits.len());
    collect_each(plan, options, collector, report, splits, |split, made| {
        parts.push((split, made));
        Ok(())
    })?;
    parts.sort_by_key(|(split, _)| *split);
    Ok(parts.into_iter().map(|(_, made)| made).collect())
}

/// Run `plan` (which must not hold a `limit`) over `splits` in collect mode, handing what each
/// split's part made to `take` as its worker finishes it. A failure of a worker or of `take`
/// stops the run and is returned.
pub(crate) fn collect_each<C: Collector + 'static>(
    plan: &Plan,
    options: &ExecOptions,
    collector: Arc<C>,
    report: Option<StatsSlot>,
    splits: Vec<Box<dyn Split>>,
    mut take: impl FnMut(usize, C::Made) -> Result<()>,
) -> Result<()> {
    debug_assert_eq!(
        plan.first_limit(),
        plan.stages.len(),
        "limits run on a consumer"
    );
    let name = Collector::describe(&*collector);
    let (shared, messages, tickets) = start(
        plan,
        options,
        plan.stages.len(),
        Some(collector),
        &name,
        report,
        splits,
    )?;
    collect_parts(&shared, &messages, &tickets, |split, part| {
        let made = part
            .downcast::<C::Made>()
            .expect("the workers hand on what this collector's parts make");
        take(split, *made)
    })
}

/// Take each split's part as its worker finishes it, until all are in; then stop the run. A
/// failure of a worker or of `take` stops the run and is returned.
fn collect_parts(
    shared: &Shared,
    messages: &Receiver<Message>,
    tickets: &Sender<()>,
    mut take: impl FnMut(usize, Box<dyn std::any::Any + Send>) -> Result<()>,
) -> Result<()> {
    let mut finished = 0;
    while finished < shared.splits.len() {
        match messages.recv() {
            Ok(Message::Collected { split, part }) => {
                finished += 1;
                let _ = tickets.try_send(());
                if let Err(error) = take(split, part) {
                    shared.stop(messages, tickets);
                    return Err(error);
                }
            }
            Ok(Message::Failed(error)) => {
                shared.stop(messages, tickets);
                return Err(error);
            }
            Ok(Message::Block { .. } | Message::SplitDone { .. }) => {
                unreachable!("workers collect in collect mode")
            }
            Err(_) => break,
        }
    }
    shared.stop(messages, tickets);
    Ok(())
}

type Started = (Arc<Shared>, Receiver<Message>, Sender<()>);

/// Start the workers running the first `worker_stages` stages of `plan` over `splits`.
fn start(
    plan: &Plan,
    options: &ExecOptions,
    worker_stages: usize,
    collector: Option<Arc<dyn AnyCollector>>,
    output: &str,
    report: Option<StatsSlot>,
    splits: Vec<Box<dyn Split>>,
) -> Result<Started> {
    let mut names = vec![plan.source.describe()];
    names.extend(plan.stages.iter().map(Stage::name));
    names.push(output.to_owned());
    let stats = Recorder::new(names).with_fetched(plan.source.fetched());
    let stages = for_run(&plan.stages[..worker_stages], options)?;
    let threads = options.threads.max(1).min(splits.len().max(1));
    tracing::info!(source = %plan.source.describe(), splits = splits.len(), threads, "run started");
    let window = 2 * threads;
    let shared = Arc::new(Shared {
        splits,
        stages,
        collector,
        next_split: AtomicUsize::new(0),
        cancelled: AtomicBool::new(false),
        budget: MemoryBudget::new(options.memory_budget),
        head: AtomicUsize::new(0),
        preserve_order: options.preserve_order || plan.source.ordered(),
        target_block_bytes: options.target_block_bytes.max(1),
        stats,
        report,
        active: AtomicUsize::new(threads),
        published: AtomicBool::new(false),
        exited: crossbeam_channel::unbounded(),
        retry: options.retry,
        max_errored_blocks: options.max_errored_blocks,
        errored: Mutex::default(),
    });
    let (tx, messages) = bounded(options.queue_blocks.max(1));
    let (tickets, ticket_rx) = bounded(window);
    for _ in 0..window {
        tickets.send(()).expect("fresh channel");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("aqueduct-worker-{i}"))
        .build()
        .map_err(|source| Error::Threads { threads, source })?;
    for _ in 0..threads {
        let shared = shared.clone();
        let tx = tx.clone();
        let ticket_rx = ticket_rx.clone();
        let output_op = shared.output_op(plan.stages.len());
        pool.spawn(move || {
            worker::run(&shared, &tx, &ticket_rx, output_op);
            shared.active.fetch_sub(1, Ordering::Release);
            let _ = shared.exited.0.send(());
        });
    }
    if options.progress {
        progress::show(shared.clone());
    }
    Ok((shared, messages, tickets))
}

/// The stages as one run executes them: each pooled stage gets a fresh pool (workers are
/// constructed per run), called through an ordinary `map_batches` function.
pub(crate) fn for_run(stages: &[Stage], options: &ExecOptions) -> Result<Vec<Stage>> {
    stages
        .iter()
        .map(|stage| match stage {
            Stage::Pooled {
                name,
                batch_size,
                spec,
            } => {
                let pool = spec.pool(name, options)?;
                let func = move |block: RecordBatch| pool.call(block);
                Ok(Stage::MapBatches {
                    name: name.clone(),
                    batch_size: *batch_size,
                    func: Arc::new(func),
                })
            }
            other => Ok(other.clone()),
        })
        .collect()
}
