//! The hash aggregate: partial aggregation per input split, fed row by row by the generated
//! loop of the stages before it; the partial states hash-partitioned (spilled past the
//! budget) and merged per partition. The output is sorted by key: when everything stayed in
//! memory, many groups come out as key ranges, each sorted and finished by its own worker;
//! else the merged partitions' sorted runs are merged by key.
//!
//! Partial states are merged in the input's order (split by split, in the order each split's
//! table handed them on), not in the order workers finished: `first`/`last` are the input's
//! first and last values, and a float sum is the same every run. Each partition folds its
//! chunks into one table as soon as every chunk before them has come (the input's frontier),
//! so what the exchange holds is about the groups, not the partial states of every split.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, UInt64Array};
use arrow::datatypes::{Field, Schema, UInt64Type};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Exchange;
use super::spill::{LazySpill, SpillDir, SpillFile};
use crate::aggregate::{GroupKey, GroupTable};
use crate::budget::Shares;
use crate::collect::{CollectPart, Collector, PartError};
use crate::error::StageError;
use crate::error::{Error, Result};
use crate::options::ExecOptions;
use crate::plan::Plan;
use crate::source::Split;
use crate::stats::RunStats;
use crate::sync::Recover;

/// Hash partitions of the partial states; output splits cover runs of them.
const PARTITIONS: usize = 64;
/// Rows per output block.
const OUTPUT_ROWS: usize = 65_536;

type Feed<K, S> =
    dyn Fn(&RecordBatch, &mut GroupTable<K, S>) -> Result<(), StageError> + Send + Sync;
type Merge<S> = dyn Fn(&mut S, S) + Send + Sync;
type Finish<K, S> = dyn Fn(Vec<(K, S)>) -> Result<RecordBatch, String> + Send + Sync;

/// `groupby(keys) |> aggregate(...)`, or `aggregate(...)` over a whole dataset (`K = ()`).
pub struct HashAggregate<K, S> {
    parts: Arc<Parts<K, S>>,
}

/// The generated parts of an aggregate.
struct Parts<K, S> {
    name: String,
    feed: Box<Feed<K, S>>,
    init: Box<dyn Fn() -> S + Send + Sync>,
    merge: Box<Merge<S>>,
    finish: Box<Finish<K, S>>,
    /// A whole-dataset aggregate has one output row even without input.
    whole: bool,
}

impl<K, S> HashAggregate<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    /// An aggregate named `name` (as written), whose generated parts are: `feed`, the loop that
    /// adds a block's rows to a table; `init`, the state of an empty group; `merge`; and
    /// `finish`, which makes an output block from finished groups, sorted by key.
    pub fn new(
        name: impl Into<String>,
        whole: bool,
        feed: impl Fn(&RecordBatch, &mut GroupTable<K, S>) -> Result<(), StageError>
        + Send
        + Sync
        + 'static,
        init: impl Fn() -> S + Send + Sync + 'static,
        merge: impl Fn(&mut S, S) + Send + Sync + 'static,
        finish: impl Fn(Vec<(K, S)>) -> Result<RecordBatch, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            parts: Arc::new(Parts {
                name: name.into(),
                feed: Box::new(feed),
                init: Box::new(init),
                merge: Box::new(merge),
                finish: Box::new(finish),
                whole,
            }),
        }
    }
}

impl<K, S> Exchange for HashAggregate<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn describe(&self) -> String {
        self.parts.name.clone()
    }

    /// Groups come out sorted by key: in one split, or in key ranges.
    fn ordered(&self) -> bool {
        true
    }

    fn run(
        &self,
        input: &Plan,
        options: &ExecOptions,
        report: &Mutex<Option<RunStats>>,
    ) -> Result<Vec<Box<dyn Split>>> {
        let threads = options.threads.max(1);
        let shares = Shares::of(options);
        let partials = Arc::new(Partials::<K, S> {
            partitions: (0..PARTITIONS).map(|_| Mutex::default()).collect(),
            bytes: AtomicUsize::new(0),
            limit: shares.exchange_held(),
            spill: LazySpill::new(options.spill_dir.clone()),
            progress: Mutex::default(),
        });
        let collector = Arc::new(Partial {
            parts: self.parts.clone(),
            partials: partials.clone(),
            table_limit: shares.worker_buffer(16 << 10),
            groups_seen: AtomicUsize::new(0),
        });
        super::collect_phase(input, options, collector, &partials.spill, report)?;
        let partitions: Vec<Partition<K, S>> = partials
            .partitions
            .iter()
            .map(|p| {
                let mut partition = std::mem::take(&mut *p.lock().recover());
                partition.unfold();
                partition
            })
            .collect();
        let target = shares.merged_split();
        if threads > 1 && partitions.iter().all(|p| p.spilled.is_empty()) {
            let groups: usize = partitions
                .iter()
                .flat_map(|p| &p.memory)
                .map(|c| c.groups.len())
                .sum();
            // About one range per output block, at most four per thread.
            let ranges = groups.div_ceil(OUTPUT_ROWS).min(4 * threads);
            if ranges > 1 {
                return key_ranges(&self.parts, partitions, ranges, threads);
            }
        }
        Ok(output_splits(
            &self.parts,
            partitions,
            target,
            threads,
            options.spill_dir.clone(),
        ))
    }
}

/// Where a chunk of partial states comes in the input: its split, and how many chunks that
/// split's table handed on before it.
type Order = (usize, usize);

/// Partial states that one split's table handed on at once.
struct Chunk<K, S> {
    order: Order,
    groups: Vec<(u64, K, S)>,
    /// What the groups hold, counted once.
    bytes: usize,
}

/// A chunk as the merge finds it.
enum Held<K, S> {
    Memory(Vec<(u64, K, S)>),
    Spilled(RecordBatch),
}

/// The partial states of one hash partition: in memory, and spilled.
struct Partition<K, S> {
    memory: Vec<Chunk<K, S>>,
    bytes: usize,
    /// Spill files of one block per chunk, with the chunks' orders.
    spilled: Vec<(SpillFile, Vec<Order>)>,
    /// Every chunk of the partition before the frontier, merged in order, with the order of
    /// the first. Once the partition spills, chunks are no longer folded (a spilled chunk
    /// could fall between two folded ones).
    folded: Option<(Order, GroupTable<K, S>)>,
    spilled_once: bool,
}

impl<K, S> Default for Partition<K, S> {
    fn default() -> Self {
        Self {
            memory: Vec::new(),
            bytes: 0,
            spilled: Vec::new(),
            folded: None,
            spilled_once: false,
        }
    }
}

impl<K: GroupKey, S> Partition<K, S> {
    /// Merge the chunks before `frontier` into the folded table, in order; the change in
    /// bytes held.
    fn fold(&mut self, frontier: Order, merge: &Merge<S>) -> isize {
        if self.spilled_once || !self.memory.iter().any(|c| c.order < frontier) {
            return 0;
        }
        let before = self.bytes;
        let (mut ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.memory)
            .into_iter()
            .partition(|c| c.order < frontier);
        self.memory = waiting;
        ready.sort_by_key(|c| c.order);
        let (_, table) = self
            .folded
            .get_or_insert_with(|| (ready[0].order, GroupTable::default()));
        let table_before = table.bytes();
        let mut released = 0;
        for chunk in ready {
            released += chunk.bytes;
            for (hash, key, state) in chunk.groups {
                table.merge(hash, key, state, merge);
            }
        }
        self.bytes = self.bytes - released - table_before + table.bytes();
        self.bytes as isize - before as isize
    }

    /// The folded table back as a chunk (for the merge, or to spill).
    fn unfold(&mut self) {
        if let Some((order, mut table)) = self.folded.take() {
            let table_bytes = table.bytes();
            let groups = table.drain();
            let bytes = groups_bytes(&groups);
            self.bytes = self.bytes - table_bytes + bytes;
            self.memory.push(Chunk {
                order,
                groups,
                bytes,
            });
        }
    }
}

/// Partial states of every split, by hash partition.
struct Partials<K, S> {
    partitions: Vec<Mutex<Partition<K, S>>>,
    /// Bytes held in memory by all partitions.
    bytes: AtomicUsize,
    /// Past this, the largest partition spills.
    limit: usize,
    spill: LazySpill,
    /// Which chunks have come: the partitions fold those before its frontier.
    progress: Mutex<Progress>,
}

/// The chunks come so far, split by split.
#[derive(Default)]
struct Progress {
    /// Splits from the frontier's on that have handed on chunks: how many, and whether the
    /// split has finished.
    splits: std::collections::BTreeMap<usize, (usize, bool)>,
    /// Every chunk before this one has come.
    frontier: Order,
}

impl Progress {
    /// Chunk `order` has come; the frontier, if it moved (else nothing new can be folded).
    fn came(&mut self, (split, sequence): Order) -> Option<Order> {
        let entry = self.splits.entry(split).or_default();
        entry.0 = entry.0.max(sequence + 1);
        self.advance()
    }

    /// Split `split` handed on its last chunk; the frontier, if it moved.
    fn finished(&mut self, split: usize) -> Option<Order> {
        self.splits.entry(split).or_default().1 = true;
        self.advance()
    }

    fn advance(&mut self) -> Option<Order> {
        let before = self.frontier;
        loop {
            let split = self.frontier.0;
            match self.splits.get(&split) {
                Some(&(_, true)) => {
                    self.splits.remove(&split);
                    self.frontier = (split + 1, 0);
                }
                Some(&(chunks, false)) => {
                    self.frontier = (split, chunks);
                    break;
                }
                None => break,
            }
        }
        (self.frontier != before).then_some(self.frontier)
    }
}

impl<K: GroupKey, S: Serialize + DeserializeOwned + Send + 'static> Partials<K, S> {
    /// Take a table's groups, fold what the frontier allows, and spill while over the limit.
    fn add(&self, order: Order, groups: Vec<(u64, K, S)>, merge: &Merge<S>) -> Result<()> {
        let mut by_partition: Vec<Vec<(u64, K, S)>> = (0..PARTITIONS).map(|_| Vec::new()).collect();
        for group in groups {
            by_partition[partition_of(group.0)].push(group);
        }
        for (index, groups) in by_partition.into_iter().enumerate() {
            if groups.is_empty() {
                continue;
            }
            let bytes = groups_bytes(&groups);
            let mut partition = self.partitions[index].lock().recover();
            partition.memory.push(Chunk {
                order,
                groups,
                bytes,
            });
            partition.bytes += bytes;
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        let advanced = self.progress.lock().recover().came(order);
        if let Some(frontier) = advanced {
            self.fold(frontier, order.0 * 17, merge);
        }
        self.spill_while_over()
    }

    /// Split `split` handed on its last chunk.
    fn finished(&self, split: usize, merge: &Merge<S>) -> Result<()> {
        let advanced = self.progress.lock().recover().finished(split);
        if let Some(frontier) = advanced {
            self.fold(frontier, split * 17, merge);
        }
        self.spill_while_over()
    }

    /// Fold every partition's chunks before `frontier`, starting at `first` (workers folding
    /// at once start at different partitions rather than queue on the same locks).
    fn fold(&self, frontier: Order, first: usize, merge: &Merge<S>) {
        for index in 0..PARTITIONS {
            let partition = &self.partitions[(first + index) % PARTITIONS];
            let change = partition.lock().recover().fold(frontier, merge);
            if change >= 0 {
                self.bytes.fetch_add(change as usize, Ordering::Relaxed);
            } else {
                self.bytes
                    .fetch_sub(change.unsigned_abs(), Ordering::Relaxed);
            }
        }
    }

    fn spill_while_over(&self) -> Result<()> {
        while self.bytes.load(Ordering::Relaxed) > self.limit {
            if !self.spill_largest()? {
                break;
            }
        }
        Ok(())
    }

    /// Spill the partition holding the most bytes; `false` if none holds any.
    fn spill_largest(&self) -> Result<bool> {
        let largest = (0..PARTITIONS).max_by_key(|&i| self.partitions[i].lock().recover().bytes);
        let Some(index) = largest else {
            return Ok(false);
        };
        let mut partition = self.partitions[index].lock().recover();
        let before = partition.bytes;
        partition.unfold();
        partition.spilled_once = true;
        if partition.bytes >= before {
            self.bytes
                .fetch_add(partition.bytes - before, Ordering::Relaxed);
        } else {
            self.bytes
                .fetch_sub(before - partition.bytes, Ordering::Relaxed);
        }
        if partition.memory.is_empty() {
            return Ok(false);
        }
        let chunks = std::mem::take(&mut partition.memory);
        let bytes = std::mem::take(&mut partition.bytes);
        let dir = self.spill.get()?;
        let orders: Vec<Order> = chunks.iter().map(|c| c.order).collect();
        let batches = chunks
            .into_iter()
            .map(|c| encode(c.groups))
            .collect::<Result<Vec<_>, String>>()
            .map_err(|reason| Error::Spill {
                path: dir.path().display().to_string(),
                reason: reason.into(),
            })?;
        partition.spilled.push((dir.write(&batches)?, orders));
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        Ok(true)
    }
}

fn partition_of(hash: u64) -> usize {
    // A hash table finds buckets with the low bits and tells keys in a bucket apart by the
    // top seven (hashbrown's control bytes): partition by bits neither uses, or every group
    // of a partition's table would share its control byte and each probe compare many keys.
    (hash >> 40) as usize % PARTITIONS
}

fn groups_bytes<K: GroupKey, S>(groups: &[(u64, K, S)]) -> usize {
    std::mem::size_of_val(groups) + groups.iter().map(|g| g.1.heap_bytes()).sum::<usize>()
}

/// Spilled groups as one block: key columns, the hash, and each state serialized.
fn encode<K: GroupKey, S: Serialize>(groups: Vec<(u64, K, S)>) -> Result<RecordBatch, String> {
    let mut keys = K::builders(groups.len());
    let mut hashes = Vec::with_capacity(groups.len());
    let mut states = BinaryBuilder::new();
    for (hash, key, state) in &groups {
        key.append(&mut keys);
        hashes.push(*hash);
        states.append_value(postcard::to_allocvec(state).map_err(|e| e.to_string())?);
    }
    let mut columns: Vec<ArrayRef> = K::finish(&mut keys);
    columns.push(Arc::new(UInt64Array::from(hashes)));
    columns.push(Arc::new(states.finish()));
    let fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

/// Groups back from a spilled block.
fn decode<K: GroupKey, S: DeserializeOwned>(
    batch: &RecordBatch,
    mut each: impl FnMut(u64, K, S),
) -> Result<(), String> {
    let n = batch.num_columns();
    let columns = batch.columns();
    let hashes = columns[n - 2].as_primitive::<UInt64Type>();
    let states = columns[n - 1].as_binary::<i32>();
    for i in 0..batch.num_rows() {
        let key = K::read(&columns[..n - 2], i).ok_or("spilled keys do not read back")?;
        let state = postcard::from_bytes(states.value(i)).map_err(|e| e.to_string())?;
        each(hashes.value(i), key, state);
    }
    Ok(())
}

/// The first phase's collector: a table per split.
struct Partial<K, S> {
    parts: Arc<Parts<K, S>>,
    partials: Arc<Partials<K, S>>,
    /// A split's table past this many bytes hands its groups on early.
    table_limit: usize,
    /// Groups in the table last handed on.
    groups_seen: AtomicUsize,
}

impl<K, S> Collector for Partial<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    type Made = ();

    fn describe(&self) -> String {
        self.parts.name.clone()
    }

    fn part(&self, split: usize) -> Box<dyn CollectPart<Made = ()> + '_> {
        // Room for as many groups as the last table handed on (within the table's limit):
        // growing a table of many groups by doubling costs more than filling it.
        let groups = self
            .groups_seen
            .load(Ordering::Relaxed)
            .min(self.table_limit / GroupTable::<K, S>::bytes_per_group());
        Box::new(PartialPart {
            collector: self,
            table: GroupTable::with_capacity(groups),
            split,
            handed_on: 0,
        })
    }
}

struct PartialPart<'a, K, S> {
    collector: &'a Partial<K, S>,
    table: GroupTable<K, S>,
    split: usize,
    /// Chunks handed on so far.
    handed_on: usize,
}

impl<K: GroupKey, S: Serialize + DeserializeOwned + Send + 'static> PartialPart<'_, K, S> {
    fn hand_on(&mut self) -> Result<()> {
        let order = (self.split, self.handed_on);
        self.handed_on += 1;
        self.collector
            .groups_seen
            .store(self.table.len(), Ordering::Relaxed);
        let merge = &self.collector.parts.merge;
        self.collector
            .partials
            .add(order, self.table.drain(), merge)
    }
}

impl<K, S> CollectPart for PartialPart<'_, K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    type Made = ();

    fn push(&mut self, batch: RecordBatch) -> Result<(), PartError> {
        (self.collector.parts.feed)(&batch, &mut self.table).map_err(PartError::Stage)?;
        if self.table.bytes() > self.collector.table_limit {
            self.hand_on()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.hand_on()?;
        let merge = &self.collector.parts.merge;
        self.collector.partials.finished(self.split, merge)
    }
}

/// The output: runs of partitions of about `target` bytes each, merged by `threads` workers;
/// one split when all fits, else one that merges the runs' sorted groups (`OrderedGroups`).
fn output_splits<K, S>(
    parts: &Arc<Parts<K, S>>,
    partitions: Vec<Partition<K, S>>,
    target: usize,
    threads: usize,
    spill_parent: std::path::PathBuf,
) -> Vec<Box<dyn Split>>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    let spilled = partitions.iter().any(|p| !p.spilled.is_empty());
    let total: usize = partitions.iter().map(|p| p.bytes).sum();
    let mut splits: Vec<GroupsSplit<K, S>> = Vec::new();
    let mut run: Vec<Partition<K, S>> = Vec::new();
    let mut run_bytes = 0;
    let one = !spilled && total <= target;
    for partition in partitions {
        if partition.memory.is_empty() && partition.spilled.is_empty() {
            continue;
        }
        let bytes = partition.bytes
            + partition
                .spilled
                .iter()
                .map(|(f, _)| f.rows() * std::mem::size_of::<(u64, K, S)>())
                .sum::<usize>();
        if !one && !run.is_empty() && run_bytes + bytes > target {
            splits.push(GroupsSplit {
                parts: parts.clone(),
                partitions: Mutex::new(std::mem::take(&mut run)),
                index: splits.len(),
            });
            run_bytes = 0;
        }
        run_bytes += bytes;
        run.push(partition);
    }
    if !run.is_empty() || (splits.is_empty() && parts.whole) {
        splits.push(GroupsSplit {
            parts: parts.clone(),
            partitions: Mutex::new(run),
            index: splits.len(),
        });
    }
    if splits.len() > 1 {
        // Each run's groups come out sorted by key, but hash partitions are not key ranges:
        // one split merges the runs' sorted groups, so the output is sorted as a whole.
        return vec![Box::new(OrderedGroups {
            runs: splits,
            threads,
            spill_parent: spilled.then_some(spill_parent),
        })];
    }
    splits
        .into_iter()
        .map(|s| Box::new(s) as Box<dyn Split>)
        .collect()
}

/// Some partitions' partial states, merged and finished when read.
struct GroupsSplit<K, S> {
    parts: Arc<Parts<K, S>>,
    partitions: Mutex<Vec<Partition<K, S>>>,
    index: usize,
}

impl<K, S> Split for GroupsSplit<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn name(&self) -> Arc<str> {
        format!("{} groups[{}]", self.parts.name, self.index).into()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let groups = self.merged()?;
        self.emit_groups(groups, emit).map(|_| ())
    }
}

impl<K, S> GroupsSplit<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn failed(&self, reason: String) -> Error {
        Error::Block {
            stage: self.parts.name.clone(),
            block: crate::error::BlockId {
                split: self.name(),
                block: 0,
            },
            reason,
        }
    }

    /// The run's partitions merged into finished-to-be groups, sorted by key.
    fn merged(&self) -> Result<Vec<(K, S)>> {
        let mut groups = self.merged_unsorted()?;
        groups.sort_by(|a, b| a.0.compare(&b.0));
        Ok(groups)
    }

    /// The run's partitions merged into finished-to-be groups, in no particular order.
    fn merged_unsorted(&self) -> Result<Vec<(K, S)>> {
        let partitions = std::mem::take(&mut *self.partitions.lock().recover());
        let mut table: GroupTable<K, S> = GroupTable::default();
        // A partition of one chunk in memory holds each of its groups once (a split's table,
        // or the partition's folded one): its groups need no table.
        let mut whole: Vec<(K, S)> = Vec::new();
        let merge = &self.parts.merge;
        let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
            for mut partition in partitions {
                if partition.spilled.is_empty() && partition.memory.len() == 1 {
                    let chunk = partition.memory.pop().expect("one chunk");
                    whole.extend(chunk.groups.into_iter().map(|(_, k, s)| (k, s)));
                    continue;
                }
                // A group's states all live in one partition: merging each partition's chunks
                // in input order merges every group's states in input order.
                let mut chunks: Vec<(Order, Held<K, S>)> = Vec::new();
                for (file, orders) in &partition.spilled {
                    let batches = file.read()?;
                    if batches.len() != orders.len() {
                        return Err(self.failed(format!(
                            "a spill file holds {} blocks of partial states, not {}",
                            batches.len(),
                            orders.len()
                        )));
                    }
                    chunks.extend(
                        orders
                            .iter()
                            .copied()
                            .zip(batches.into_iter().map(Held::Spilled)),
                    );
                }
                chunks.extend(
                    partition
                        .memory
                        .into_iter()
                        .map(|c| (c.order, Held::Memory(c.groups))),
                );
                chunks.sort_by_key(|(order, _)| *order);
                for (_, chunk) in chunks {
                    match chunk {
                        Held::Spilled(batch) => decode::<K, S>(&batch, |hash, key, state| {
                            table.merge(hash, key, state, |a, b| merge(a, b))
                        })
                        .map_err(|r| self.failed(r))?,
                        Held::Memory(groups) => {
                            for (hash, key, state) in groups {
                                table.merge(hash, key, state, |a, b| merge(a, b));
                            }
                        }
                    }
                }
            }
            Ok(())
        }));
        self.caught(merged)??;
        let mut groups: Vec<(K, S)> = table.drain().into_iter().map(|(_, k, s)| (k, s)).collect();
        groups.append(&mut whole);
        if groups.is_empty() && self.parts.whole {
            groups.push((
                K::read(&[], 0).ok_or_else(|| self.failed("no key".into()))?,
                (self.parts.init)(),
            ));
        }
        Ok(groups)
    }

    /// Finish `groups` (in key order) into output blocks; `false` when `emit` asked to stop.
    fn emit_groups(
        &self,
        groups: impl IntoIterator<Item = (K, S)>,
        emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
    ) -> Result<bool> {
        let mut chunk = Vec::with_capacity(OUTPUT_ROWS);
        let mut groups = groups.into_iter().peekable();
        while groups.peek().is_some() {
            chunk.extend(groups.by_ref().take(OUTPUT_ROWS));
            let finish = &self.parts.finish;
            let ready = std::mem::take(&mut chunk);
            let batch = self
                .caught(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                    || finish(ready),
                )))?
                .map_err(|r| self.failed(r))?;
            if !emit(batch)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A panic in a user's merge or finish as an error naming the aggregate.
    fn caught<T>(&self, result: std::thread::Result<T>) -> Result<T> {
        result.map_err(|panic| Error::Panic {
            stage: self.parts.name.clone(),
            block: crate::error::BlockId {
                split: self.name(),
                block: 0,
            },
            message: crate::error::panic_message(&panic),
        })
    }
}

/// The output as `ranges` splits of keys, each sorted when read, when every partial state is
/// in memory: `threads` workers merge the partitions' chunks, bounds are cut from a sample of
/// the keys, and each partition's groups go to the range of their key. A sorted output then
/// needs no merge on one thread, and the finishing and writing is spread over the workers.
fn key_ranges<K, S>(
    parts: &Arc<Parts<K, S>>,
    partitions: Vec<Partition<K, S>>,
    ranges: usize,
    threads: usize,
) -> Result<Vec<Box<dyn Split>>>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    let runs: Vec<GroupsSplit<K, S>> = partitions
        .into_iter()
        .filter(|p| !p.memory.is_empty())
        .enumerate()
        .map(|(index, partition)| GroupsSplit {
            parts: parts.clone(),
            partitions: Mutex::new(vec![partition]),
            index,
        })
        .collect();
    let merged = on_workers(threads, runs.len(), |i| runs[i].merged_unsorted())?;
    let bounds = bounds(&merged, ranges);
    let scattered = on_workers(threads, merged.len(), |i| {
        let groups = std::mem::take(&mut *merged[i].lock().recover());
        let mut pieces: Vec<Vec<(K, S)>> = (0..=bounds.len()).map(|_| Vec::new()).collect();
        for group in groups {
            // Keys equal to a bound go to the range after it.
            let range = bounds.partition_point(|b| b.compare(&group.0).is_le());
            pieces[range].push(group);
        }
        Ok(pieces)
    })?;
    let mut by_range: Vec<Vec<Vec<(K, S)>>> = (0..=bounds.len()).map(|_| Vec::new()).collect();
    for pieces in scattered {
        for (range, piece) in pieces.into_inner().recover().into_iter().enumerate() {
            by_range[range].push(piece);
        }
    }
    Ok(by_range
        .into_iter()
        .enumerate()
        .map(|(index, pieces)| {
            Box::new(RangeGroups {
                finishing: GroupsSplit {
                    parts: parts.clone(),
                    partitions: Mutex::new(Vec::new()),
                    index,
                },
                pieces: Mutex::new(pieces),
            }) as Box<dyn Split>
        })
        .collect())
}

/// `work(i)` for every `i` below `count`, on up to `threads` scoped threads; the results by
/// `i` (each in a mutex, for taking apart in place), or the first error.
fn on_workers<T: Send + Default>(
    threads: usize,
    count: usize,
    work: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<Mutex<T>>> {
    let results: Vec<Mutex<T>> = (0..count).map(|_| Mutex::default()).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads.min(count))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(());
                        }
                        *results[i].lock().recover() = work(i)?;
                    }
                })
            })
            .collect();
        for worker in workers {
            // A user's merge runs inside `merged_unsorted`, which turns its panics into errors.
            worker.join().expect("a merging worker panicked")?;
        }
        Ok(())
    })?;
    Ok(results)
}

/// `ranges - 1` keys (fewer when keys repeat) cutting the groups into ranges of about equal
/// size: quantiles of every `step`-th key of every run.
fn bounds<K: GroupKey, S>(runs: &[Mutex<Vec<(K, S)>>], ranges: usize) -> Vec<K> {
    let total: usize = runs.iter().map(|r| r.lock().recover().len()).sum();
    // About 64 samples per range.
    let step = (total / (ranges * 64)).max(1);
    let mut sample: Vec<K> = runs
        .iter()
        .flat_map(|run| {
            let run = run.lock().recover();
            run.iter()
                .step_by(step)
                .map(|(key, _)| K::to_owned(key.borrow()))
                .collect::<Vec<K>>()
        })
        .collect();
    sample.sort_by(K::compare);
    let mut bounds: Vec<K> = Vec::with_capacity(ranges - 1);
    for r in 1..ranges {
        let key = &sample[r * sample.len() / ranges];
        if bounds.last().is_none_or(|b| b.compare(key).is_lt()) {
            bounds.push(K::to_owned(key.borrow()));
        }
    }
    bounds
}

/// One range of keys of the output: its groups from every partition, sorted when read and
/// finished as a run of partitions is (`finishing` holds no partition).
struct RangeGroups<K, S> {
    finishing: GroupsSplit<K, S>,
    pieces: Mutex<Vec<Vec<(K, S)>>>,
}

impl<K, S> Split for RangeGroups<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn name(&self) -> Arc<str> {
        self.finishing.name()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let mut groups: Vec<(K, S)> = std::mem::take(&mut *self.pieces.lock().recover())
            .into_iter()
            .flatten()
            .collect();
        groups.sort_by(|a, b| a.0.compare(&b.0));
        self.finishing.emit_groups(groups, emit).map(|_| ())
    }
}

/// Groups of a run written to a spill file, per block.
const RUN_BLOCK_ROWS: usize = 4_096;

/// Several runs of partitions, each merged and sorted by its own worker, then merged by key
/// into one output sorted as a whole. The sorted runs are written to spill files when the
/// partial states were spilled (they do not fit the budget), else they stay in memory.
struct OrderedGroups<K, S> {
    runs: Vec<GroupsSplit<K, S>>,
    threads: usize,
    spill_parent: Option<std::path::PathBuf>,
}

/// A run's sorted groups: in memory, or in a spill file.
enum SortedRun<K, S> {
    Memory(Vec<(K, S)>),
    Spilled(SpillFile),
}

impl<K, S> Split for OrderedGroups<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn name(&self) -> Arc<str> {
        format!("{} groups", self.runs[0].parts.name).into()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let dir = match &self.spill_parent {
            Some(parent) => Some(SpillDir::new(parent)?),
            None => None,
        };
        let next = AtomicUsize::new(0);
        let files: Vec<Mutex<Option<SortedRun<K, S>>>> =
            self.runs.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| -> Result<()> {
            let workers: Vec<_> = (0..self.threads.min(self.runs.len()))
                .map(|_| {
                    scope.spawn(|| -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(run) = self.runs.get(i) else {
                                return Ok(());
                            };
                            let groups = run.merged()?;
                            let sorted = match &dir {
                                Some(dir) => SortedRun::Spilled(write_run(dir, run, groups)?),
                                None => SortedRun::Memory(groups),
                            };
                            *files[i].lock().recover() = Some(sorted);
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().map_err(|panic| Error::Panic {
                    stage: self.runs[0].parts.name.clone(),
                    block: crate::error::BlockId {
                        split: self.name(),
                        block: 0,
                    },
                    message: crate::error::panic_message(&panic),
                })??;
            }
            Ok(())
        })?;
        let mut sorted: Vec<SortedRun<K, S>> = files
            .into_iter()
            .filter_map(|f| f.into_inner().recover())
            .collect();
        let first = &self.runs[0];
        let mut cursors = Vec::with_capacity(sorted.len());
        for run in &mut sorted {
            cursors.push(RunCursor::open(run, first)?);
        }
        let merged = MergedGroups {
            cursors,
            heap: std::collections::BinaryHeap::new(),
            error: None,
        };
        let mut merged = merged.started();
        let go_on = first.emit_groups(&mut merged, emit)?;
        match merged.error.take() {
            Some(error) if go_on => Err(error),
            _ => Ok(()),
        }
    }
}

/// Write a run's sorted groups to a spill file.
fn write_run<K, S>(
    dir: &Arc<SpillDir>,
    run: &GroupsSplit<K, S>,
    groups: Vec<(K, S)>,
) -> Result<SpillFile>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    let mut writer = None;
    let mut groups = groups.into_iter().peekable();
    while groups.peek().is_some() {
        let block: Vec<(u64, K, S)> = groups
            .by_ref()
            .take(RUN_BLOCK_ROWS)
            .map(|(k, s)| (0, k, s))
            .collect();
        let batch = encode(block).map_err(|r| run.failed(r))?;
        if writer.is_none() {
            writer = Some(dir.writer(&batch.schema())?);
        }
        writer.as_mut().expect("just made").write(&batch)?;
    }
    match writer {
        Some(writer) => writer.finish(),
        None => dir.write(&[]),
    }
}

/// A run's groups in key order: taken from memory, or read back block by block.
struct RunCursor<'a, K, S> {
    blocks: Box<dyn Iterator<Item = Result<RecordBatch>> + 'a>,
    groups: std::collections::VecDeque<(K, S)>,
    run: &'a GroupsSplit<K, S>,
}

impl<'a, K, S> RunCursor<'a, K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn open(sorted: &'a mut SortedRun<K, S>, run: &'a GroupsSplit<K, S>) -> Result<Self> {
        Ok(match sorted {
            SortedRun::Memory(groups) => Self {
                blocks: Box::new(std::iter::empty()),
                groups: std::mem::take(groups).into(),
                run,
            },
            SortedRun::Spilled(file) => Self {
                blocks: Box::new(file.blocks(0..usize::MAX)?),
                groups: std::collections::VecDeque::new(),
                run,
            },
        })
    }

    /// The next group, reading the next block when the current one is used up.
    fn next(&mut self) -> Result<Option<(K, S)>> {
        while self.groups.is_empty() {
            let Some(batch) = self.blocks.next().transpose()? else {
                return Ok(None);
            };
            let groups = &mut self.groups;
            decode::<K, S>(&batch, |_, key, state| groups.push_back((key, state)))
                .map_err(|r| self.run.failed(r))?;
        }
        Ok(self.groups.pop_front())
    }
}

/// The head group of one run, ordered so that the heap's top is the smallest key.
struct Head<K, S> {
    key: K,
    state: S,
    run: usize,
}

impl<K: GroupKey, S> PartialEq for Head<K, S> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl<K: GroupKey, S> Eq for Head<K, S> {}

impl<K: GroupKey, S> PartialOrd for Head<K, S> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: GroupKey, S> Ord for Head<K, S> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: `BinaryHeap` is a max-heap.
        other.key.compare(&self.key).then(other.run.cmp(&self.run))
    }
}

/// The k-way merge of the runs' groups, as an iterator; a read error ends it and is kept.
struct MergedGroups<'a, K, S> {
    cursors: Vec<RunCursor<'a, K, S>>,
    heap: std::collections::BinaryHeap<Head<K, S>>,
    error: Option<Error>,
}

impl<K, S> MergedGroups<'_, K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn started(mut self) -> Self {
        for run in 0..self.cursors.len() {
            self.advance(run);
        }
        self
    }

    fn advance(&mut self, run: usize) {
        match self.cursors[run].next() {
            Ok(Some((key, state))) => self.heap.push(Head { key, state, run }),
            Ok(None) => {}
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
    }
}

impl<K, S> Iterator for &mut MergedGroups<'_, K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    type Item = (K, S);

    fn next(&mut self) -> Option<(K, S)> {
        if self.error.is_some() {
            return None;
        }
        let Head { key, state, run } = self.heap.pop()?;
        self.advance(run);
        Some((key, state))
    }
}

#[cfg(test)]
mod tests {
    use super::{Order, Progress};

    #[test]
    fn the_frontier_passes_a_split_only_once_it_has_finished() {
        let mut progress = Progress::default();
        // Split 1 hands on first: nothing of split 0 has come, the frontier stays.
        assert_eq!(progress.came((1, 0)), None);
        assert_eq!(progress.came((0, 0)), Some((0, 1)));
        assert_eq!(progress.came((0, 1)), Some((0, 2)));
        // Split 0 is done: split 1's first chunk has come, its second may still.
        assert_eq!(progress.finished(0), Some((1, 1)));
        // Split 2 finishes before split 1 does, with no chunk at all.
        assert_eq!(progress.finished(2), None);
        let end: Option<Order> = progress.finished(1);
        assert_eq!(end, Some((3, 0)));
    }
}
