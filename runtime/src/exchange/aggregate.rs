//! The hash aggregate: partial aggregation per input split, fed row by row by the generated
//! loop of the stages before it; the partial states hash-partitioned (spilled past the
//! budget) and merged per partition by the workers of the next run.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, UInt64Array};
use arrow::datatypes::{Field, Schema, UInt64Type};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Exchange;
use super::spill::{SpillDir, SpillFile};
use crate::aggregate::{GroupKey, GroupTable};
use crate::collect::{CollectPart, Collector, PartError};
use crate::error::{Error, Result};
use crate::options::ExecOptions;
use crate::plan::{Plan, StageError};
use crate::source::Split;
use crate::stats::RunStats;

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

    fn run(
        &self,
        input: &Plan,
        options: &ExecOptions,
        report: &Mutex<Option<RunStats>>,
    ) -> Result<Vec<Box<dyn Split>>> {
        let threads = options.threads.max(1);
        let budget = options.memory_budget.max(1);
        let partials = Arc::new(Partials::<K, S> {
            partitions: (0..PARTITIONS).map(|_| Mutex::default()).collect(),
            bytes: AtomicUsize::new(0),
            limit: budget / 2,
            spill_parent: options.spill_dir.clone(),
            spill: OnceLock::new(),
        });
        let collector = Arc::new(Partial {
            parts: self.parts.clone(),
            partials: partials.clone(),
            table_limit: (budget / (8 * threads)).max(16 << 10),
        });
        super::collect_phase(input, options, collector, &partials.spill, report)?;
        let partitions: Vec<Partition<K, S>> = partials
            .partitions
            .iter()
            .map(|p| std::mem::take(&mut *p.lock().unwrap_or_else(|e| e.into_inner())))
            .collect();
        // Merging a split's partitions holds their states about three times over (the
        // table, its growth, the sorted groups), in every worker at once.
        let target = (budget / (12 * threads)).max(64 << 10);
        Ok(output_splits(&self.parts, partitions, target))
    }
}

/// The partial states of one hash partition: in memory, and spilled.
struct Partition<K, S> {
    memory: Vec<(u64, K, S)>,
    bytes: usize,
    spilled: Vec<SpillFile>,
}

impl<K, S> Default for Partition<K, S> {
    fn default() -> Self {
        Self {
            memory: Vec::new(),
            bytes: 0,
            spilled: Vec::new(),
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
    spill_parent: std::path::PathBuf,
    spill: OnceLock<Arc<SpillDir>>,
}

impl<K: GroupKey, S: Serialize + DeserializeOwned + Send + 'static> Partials<K, S> {
    /// Take a table's groups, spilling while over the limit.
    fn add(&self, groups: Vec<(u64, K, S)>) -> Result<()> {
        let mut by_partition: Vec<Vec<(u64, K, S)>> = (0..PARTITIONS).map(|_| Vec::new()).collect();
        for group in groups {
            by_partition[partition_of(group.0)].push(group);
        }
        for (index, groups) in by_partition.into_iter().enumerate() {
            if groups.is_empty() {
                continue;
            }
            let bytes = groups_bytes(&groups);
            let mut partition = self.partitions[index]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            partition.memory.extend(groups);
            partition.bytes += bytes;
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        while self.bytes.load(Ordering::Relaxed) > self.limit {
            if !self.spill_largest()? {
                break;
            }
        }
        Ok(())
    }

    /// Spill the partition holding the most bytes; `false` if none holds any.
    fn spill_largest(&self) -> Result<bool> {
        let largest = (0..PARTITIONS).max_by_key(|&i| {
            self.partitions[i]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .bytes
        });
        let Some(index) = largest else {
            return Ok(false);
        };
        let mut partition = self.partitions[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if partition.memory.is_empty() {
            return Ok(false);
        }
        let groups = std::mem::take(&mut partition.memory);
        let bytes = std::mem::take(&mut partition.bytes);
        let dir = match self.spill.get() {
            Some(dir) => dir.clone(),
            None => {
                let dir = SpillDir::new(&self.spill_parent)?;
                self.spill.get_or_init(|| dir).clone()
            }
        };
        let batch = encode(groups).map_err(|reason| Error::Spill {
            path: dir.path().display().to_string(),
            reason,
        })?;
        partition.spilled.push(dir.write(&[batch])?);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        Ok(true)
    }
}

fn partition_of(hash: u64) -> usize {
    // The table uses the low bits to find buckets; partition by the high ones.
    (hash >> 58) as usize % PARTITIONS
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
}

impl<K, S> Collector for Partial<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn describe(&self) -> String {
        self.parts.name.clone()
    }

    fn part(&self, _split: usize) -> Box<dyn CollectPart + '_> {
        Box::new(PartialPart {
            collector: self,
            table: GroupTable::default(),
        })
    }
}

struct PartialPart<'a, K, S> {
    collector: &'a Partial<K, S>,
    table: GroupTable<K, S>,
}

impl<K, S> CollectPart for PartialPart<'_, K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    fn push(&mut self, batch: RecordBatch) -> Result<(), PartError> {
        (self.collector.parts.feed)(&batch, &mut self.table).map_err(PartError::Stage)?;
        if self.table.bytes() > self.collector.table_limit {
            self.collector.partials.add(self.table.drain())?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Box<dyn Any + Send>> {
        self.collector.partials.add(self.table.drain())?;
        Ok(Box::new(()))
    }
}

/// Output splits over runs of partitions of about `target` bytes each (one split when all fits).
fn output_splits<K, S>(
    parts: &Arc<Parts<K, S>>,
    partitions: Vec<Partition<K, S>>,
    target: usize,
) -> Vec<Box<dyn Split>>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    let spilled = partitions.iter().any(|p| !p.spilled.is_empty());
    let total: usize = partitions.iter().map(|p| p.bytes).sum();
    let mut splits: Vec<Box<dyn Split>> = Vec::new();
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
                .map(|f| f.rows() * std::mem::size_of::<(u64, K, S)>())
                .sum::<usize>();
        if !one && !run.is_empty() && run_bytes + bytes > target {
            splits.push(Box::new(GroupsSplit {
                parts: parts.clone(),
                partitions: Mutex::new(std::mem::take(&mut run)),
                index: splits.len(),
            }));
            run_bytes = 0;
        }
        run_bytes += bytes;
        run.push(partition);
    }
    if !run.is_empty() || (splits.is_empty() && parts.whole) {
        splits.push(Box::new(GroupsSplit {
            parts: parts.clone(),
            partitions: Mutex::new(run),
            index: splits.len(),
        }));
    }
    splits
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
        let partitions =
            std::mem::take(&mut *self.partitions.lock().unwrap_or_else(|e| e.into_inner()));
        let failed = |reason: String| Error::Block {
            stage: self.parts.name.clone(),
            block: crate::error::BlockId {
                split: self.name(),
                block: 0,
            },
            reason,
        };
        let mut table: GroupTable<K, S> = GroupTable::default();
        let merge = &self.parts.merge;
        let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
            for partition in partitions {
                for file in &partition.spilled {
                    for batch in file.read()? {
                        decode::<K, S>(&batch, |hash, key, state| {
                            table.merge(hash, key, state, |a, b| merge(a, b))
                        })
                        .map_err(failed)?;
                    }
                }
                for (hash, key, state) in partition.memory {
                    table.merge(hash, key, state, |a, b| merge(a, b));
                }
            }
            Ok(())
        }));
        self.caught(merged)??;
        let mut groups: Vec<(K, S)> = table.drain().into_iter().map(|(_, k, s)| (k, s)).collect();
        if groups.is_empty() && self.parts.whole {
            groups.push((
                K::read(&[], 0).ok_or_else(|| failed("no key".into()))?,
                (self.parts.init)(),
            ));
        }
        groups.sort_by(|a, b| a.0.compare(&b.0));
        let mut rest = groups;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(OUTPUT_ROWS));
            let chunk = std::mem::replace(&mut rest, tail);
            let finish = &self.parts.finish;
            let batch = self
                .caught(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                    || finish(chunk),
                )))?
                .map_err(failed)?;
            if !emit(batch)? {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl<K, S> GroupsSplit<K, S>
where
    K: GroupKey,
    S: Serialize + DeserializeOwned + Send + 'static,
{
    /// A panic in a user's merge or finish as an error naming the aggregate.
    fn caught<T>(&self, result: std::thread::Result<T>) -> Result<T> {
        result.map_err(|panic| Error::Panic {
            stage: self.parts.name.clone(),
            block: crate::error::BlockId {
                split: self.name(),
                block: 0,
            },
            message: crate::executor::panic_message(&panic),
        })
    }
}
