//! The streaming executor: splits are read in parallel by worker tasks on a rayon pool, each
//! block runs through the stages on the worker that read it, and results flow to the consumer
//! through a bounded channel. A full channel blocks the workers (backpressure); at most
//! `window` splits are in flight, so reordering to the source's order needs bounded memory.
//!
//! Stages from the first `limit` on run on the consumer's thread, in order; when the limit is
//! reached the run is cancelled and the workers stop after their current block.

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, Sender, bounded};

use crate::budget::{Admitted, MemoryBudget};
use crate::error::{BlockId, Error, Result};
pub use crate::options::ExecOptions;
use crate::plan::{Plan, Stage, StageError};
use crate::sink::{FileSink, WriteSummary, WrittenPart};
use crate::source::Split;

enum Message {
    Block {
        split: usize,
        batch: RecordBatch,
        admitted: Admitted,
    },
    SplitDone {
        split: usize,
    },
    /// In write mode: the split's output went to these files instead of the channel.
    Written {
        split: usize,
        part: WrittenPart,
    },
    Failed(Error),
}

struct Shared {
    splits: Vec<Box<dyn Split>>,
    stages: Vec<Stage>,
    /// When set, workers write each split's output to its own files.
    sink: Option<Arc<FileSink>>,
    next_split: AtomicUsize,
    cancelled: AtomicBool,
    /// Bytes of blocks between the workers and the consumer.
    budget: MemoryBudget,
    /// The split the consumer needs next.
    head: AtomicUsize,
}

/// The blocks a plan produces, in source order. Dropping it cancels the run.
pub struct BlockStream {
    shared: Arc<Shared>,
    messages: Receiver<Message>,
    tickets: Sender<()>,
    /// Blocks of splits after the current one, waiting for their turn.
    pending: HashMap<usize, (VecDeque<(RecordBatch, Admitted)>, bool)>,
    current: usize,
    tail: Vec<Stage>,
    /// Rows each `limit` of the tail still lets through.
    limit_left: Vec<usize>,
    ready: VecDeque<RecordBatch>,
    done: bool,
}

/// Start running `plan`.
pub fn execute(plan: &Plan, options: &ExecOptions) -> Result<BlockStream> {
    let first_limit = first_limit(plan);
    let (shared, messages, tickets) = start(plan, options, &plan.stages[..first_limit], None)?;
    Ok(BlockStream {
        shared,
        messages,
        tickets,
        pending: HashMap::new(),
        current: 0,
        limit_left: plan.stages[first_limit..]
            .iter()
            .map(|s| {
                if let Stage::Limit(n) = s {
                    *n
                } else {
                    usize::MAX
                }
            })
            .collect(),
        tail: plan.stages[first_limit..].to_vec(),
        ready: VecDeque::new(),
        done: false,
    })
}

/// Run `plan` and write its output with `sink`. Without a `limit`, every worker writes the
/// output of the splits it reads to their own files, in parallel; with one, the ordered output
/// is written by the calling thread.
pub fn execute_write(
    plan: &Plan,
    options: &ExecOptions,
    sink: Arc<FileSink>,
) -> Result<WriteSummary> {
    if first_limit(plan) < plan.stages.len() {
        let mut part = sink.part(0);
        for block in execute(plan, options)? {
            part.write(&block?)?;
        }
        return sink.summarize(vec![part.finish()?]);
    }
    let (shared, messages, tickets) = start(plan, options, &plan.stages, Some(sink.clone()))?;
    let mut parts = Vec::with_capacity(shared.splits.len());
    while parts.len() < shared.splits.len() {
        match messages.recv() {
            Ok(Message::Written { split, part }) => {
                parts.push((split, part));
                let _ = tickets.try_send(());
            }
            Ok(Message::Failed(error)) => {
                shared.cancelled.store(true, Ordering::Relaxed);
                return Err(error);
            }
            Ok(Message::Block { .. } | Message::SplitDone { .. }) => {
                unreachable!("workers write in write mode")
            }
            Err(_) => break,
        }
    }
    parts.sort_by_key(|(split, _)| *split);
    sink.summarize(parts.into_iter().map(|(_, part)| part).collect())
}

fn first_limit(plan: &Plan) -> usize {
    plan.stages
        .iter()
        .position(|s| matches!(s, Stage::Limit(_)))
        .unwrap_or(plan.stages.len())
}

type Started = (Arc<Shared>, Receiver<Message>, Sender<()>);

/// List the splits and start the workers running `stages` over them.
fn start(
    plan: &Plan,
    options: &ExecOptions,
    stages: &[Stage],
    sink: Option<Arc<FileSink>>,
) -> Result<Started> {
    let splits = plan.source.splits()?;
    let threads = options.threads.max(1).min(splits.len().max(1));
    let window = 2 * threads;
    let shared = Arc::new(Shared {
        splits,
        stages: stages.to_vec(),
        sink,
        next_split: AtomicUsize::new(0),
        cancelled: AtomicBool::new(false),
        budget: MemoryBudget::new(options.memory_budget),
        head: AtomicUsize::new(0),
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
        .map_err(|e| Error::InvalidLocation {
            url: "thread pool".into(),
            reason: e.to_string(),
        })?;
    for _ in 0..threads {
        let shared = shared.clone();
        let tx = tx.clone();
        let ticket_rx = ticket_rx.clone();
        pool.spawn(move || worker(&shared, &tx, &ticket_rx));
    }
    Ok((shared, messages, tickets))
}

fn worker(shared: &Shared, tx: &Sender<Message>, tickets: &Receiver<()>) {
    loop {
        if shared.cancelled.load(Ordering::Relaxed) || tickets.recv().is_err() {
            return;
        }
        let index = shared.next_split.fetch_add(1, Ordering::Relaxed);
        let Some(split) = shared.splits.get(index) else {
            return;
        };
        let message = match run_split(shared, tx, index, split.as_ref()) {
            Ok(Some(part)) => Message::Written { split: index, part },
            Ok(None) => Message::SplitDone { split: index },
            Err(e) => Message::Failed(e),
        };
        let failed = matches!(message, Message::Failed(_));
        if tx.send(message).is_err() || failed {
            return;
        }
    }
}

/// Read one split and run the stages over it, sending the blocks to the consumer, or in write
/// mode writing them to the split's files.
fn run_split(
    shared: &Shared,
    tx: &Sender<Message>,
    index: usize,
    split: &dyn Split,
) -> Result<Option<WrittenPart>> {
    let name = split.name();
    let mut block = 0;
    let mut run = SplitRun::new(&shared.stages);
    let mut out = Vec::new();
    let mut part = shared.sink.as_ref().map(|sink| sink.part(index));
    let mut deliver = |out: &mut Vec<RecordBatch>| -> Result<bool> {
        for batch in out.drain(..) {
            match &mut part {
                Some(part) => part.write(&batch)?,
                None => {
                    let bytes = batch.get_array_memory_size();
                    let is_head = || shared.head.load(Ordering::Relaxed) == index;
                    let Some(admitted) = shared.budget.acquire(bytes, is_head, &shared.cancelled)
                    else {
                        return Ok(false);
                    };
                    if tx
                        .send(Message::Block {
                            split: index,
                            batch,
                            admitted,
                        })
                        .is_err()
                    {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    };
    split.read(&mut |batch| {
        let id = BlockId {
            split: name.clone(),
            block,
        };
        block += 1;
        run.push(batch, &id, &mut out)?;
        Ok(deliver(&mut out)? && !shared.cancelled.load(Ordering::Relaxed))
    })?;
    let id = BlockId {
        split: name.clone(),
        block: block.saturating_sub(1),
    };
    run.finish(&id, &mut out)?;
    deliver(&mut out)?;
    part.map(|p| p.finish()).transpose()
}

/// The stages applied to the blocks of one split, in order. `map_batches` stages with a batch
/// size carry rows over from one block to the next, so their batches have exactly that many
/// rows; only the split's last batch may be smaller.
pub struct SplitRun<'a> {
    stages: &'a [Stage],
    carry: Vec<Vec<RecordBatch>>,
}

impl<'a> SplitRun<'a> {
    /// A run of `stages` over one split.
    pub fn new(stages: &'a [Stage]) -> Self {
        Self {
            stages,
            carry: vec![Vec::new(); stages.len()],
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
            let pending = std::mem::take(&mut self.carry[index]);
            if pending.iter().map(|b| b.num_rows()).sum::<usize>() == 0 {
                continue;
            }
            let batch = arrow::compute::concat_batches(&pending[0].schema(), &pending)?;
            let stage = &self.stages[index];
            let Stage::MapBatches { func, .. } = stage else {
                unreachable!("only map_batches carries rows")
            };
            let result = call(stage, func.as_ref(), batch, id)?;
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
            let stage = &self.stages[index];
            let mut next = Vec::with_capacity(blocks.len());
            for block in blocks {
                match stage {
                    Stage::Map { func, .. } => next.push(call(stage, func.as_ref(), block, id)?),
                    Stage::MapBatches {
                        batch_size: None,
                        func,
                        ..
                    } => next.push(call(stage, func.as_ref(), block, id)?),
                    Stage::MapBatches {
                        batch_size: Some(size),
                        func,
                        ..
                    } => {
                        let size = (*size).max(1);
                        let carry = &mut self.carry[index];
                        carry.push(block);
                        let mut held: usize = carry.iter().map(|b| b.num_rows()).sum();
                        while held >= size {
                            let all =
                                arrow::compute::concat_batches(&carry[0].schema(), carry.iter())?;
                            let batch = all.slice(0, size);
                            let rest = all.slice(size, all.num_rows() - size);
                            held = rest.num_rows();
                            *carry = vec![rest];
                            next.push(call(stage, func.as_ref(), batch, id)?);
                        }
                    }
                    Stage::Limit(_) => unreachable!("limits run on the consumer"),
                }
            }
            blocks = next;
        }
        out.extend(blocks);
        Ok(())
    }
}

fn call(
    stage: &Stage,
    func: &crate::plan::BlockFn,
    block: RecordBatch,
    id: &BlockId,
) -> Result<RecordBatch> {
    match catch_unwind(AssertUnwindSafe(|| func(block))) {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(StageError::Columns(reason))) => Err(Error::Block {
            stage: stage.name(),
            block: id.clone(),
            reason,
        }),
        Ok(Err(StageError::User(source))) => Err(Error::User {
            stage: stage.name(),
            block: id.clone(),
            source,
        }),
        Err(panic) => Err(Error::Panic {
            stage: stage.name(),
            block: id.clone(),
            message: panic_message(&panic),
        }),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

impl BlockStream {
    /// The most bytes of blocks that were in flight at once so far (bounded by the memory
    /// budget, see `budget.rs`).
    pub fn peak_bytes_in_flight(&self) -> usize {
        self.shared.budget.high_water()
    }

    fn cancel(&mut self) {
        self.shared.cancelled.store(true, Ordering::Relaxed);
        self.done = true;
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
            match self.messages.recv() {
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
                Ok(Message::Written { .. }) => unreachable!("workers stream blocks in stream mode"),
                Ok(Message::Failed(error)) => return Some(Err(error)),
                Err(_) => return None,
            }
        }
    }

    /// Apply the consumer-side stages (from the first limit on) to one block. Stages between
    /// limits run block by block here (no carry-over: their input is already in order).
    fn run_tail(&mut self, batch: RecordBatch) -> Result<()> {
        let mut blocks = vec![batch];
        for (index, stage) in self.tail.iter().enumerate() {
            let mut next = Vec::new();
            for block in blocks {
                if let Stage::Limit(_) = stage {
                    let left = &mut self.limit_left[index];
                    let take = (*left).min(block.num_rows());
                    *left -= take;
                    if take > 0 {
                        next.push(block.slice(0, take));
                    }
                } else {
                    let id = BlockId {
                        split: "the ordered output".into(),
                        block: 0,
                    };
                    let mut run = SplitRun::new(std::slice::from_ref(stage));
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
}

impl Iterator for BlockStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                return Some(Ok(batch));
            }
            if self.done || self.limit_reached() {
                self.cancel();
                return None;
            }
            match self.next_ordered() {
                Some(Ok(batch)) => {
                    if let Err(e) = self.run_tail(batch) {
                        self.cancel();
                        return Some(Err(e));
                    }
                }
                Some(Err(e)) => {
                    self.cancel();
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                }
            }
        }
    }
}

impl Drop for BlockStream {
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::Relaxed);
    }
}
