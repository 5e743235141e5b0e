//! Operators that move whole rows: sort, random_shuffle, map_groups (all three sort: a shuffle
//! sorts by a seeded random key, map_groups by the group key), repartition and
//! randomize_block_order (which keep blocks as they are and only regroup or reorder them).
//!
//! Sorting is out of core: each split's blocks are sorted in runs of bounded size; runs spill
//! past the budget; the output is a k-way merge of the runs (arrow's row format for the
//! comparisons), read one block per run at a time.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, AsArray, UInt64Array};
use arrow::compute::{
    SortColumn, SortOptions, concat_batches, interleave_record_batch, lexsort_to_indices,
    take_record_batch,
};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::row::{OwnedRow, RowConverter, Rows, SortField};

use super::Exchange;
use super::spill::{LazySpill, SpillFile};
use crate::budget::Shares;
use crate::collect::{CollectPart, Collector, PartError};
use crate::error::{BlockId, Error, Result, StageError, guard_stage};
use crate::options::ExecOptions;
use crate::plan::{BlockFn, Plan};
use crate::source::Split;
use crate::stats::RunStats;
use crate::sync::Recover;

/// Rows per block of sorted output.
const BLOCK_ROWS: usize = 8192;
/// The column a shuffle sorts by.
const RANDOM_KEY: &str = "__aqueduct_random_key";

/// One column of a sort order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
    pub nulls_first: bool,
}

impl SortKey {
    /// Ascending, nulls last.
    pub fn ascending(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            descending: false,
            nulls_first: false,
        }
    }
}

/// What a [`RowExchange`] does.
#[derive(Clone)]
pub enum RowOp {
    /// Order rows by these keys.
    Sort(Vec<SortKey>),
    /// Put rows in a random order, the same for the same seed and input.
    RandomShuffle { seed: u64 },
    /// Keep blocks whole, in a random order, the same for the same seed and input.
    RandomizeBlockOrder { seed: u64 },
    /// `n` output splits of nearly equal rows, in order.
    Repartition(usize),
    /// Call `func` once per group of rows with equal `keys`, with the whole group as one block.
    MapGroups {
        keys: Vec<String>,
        func: Arc<BlockFn>,
    },
}

/// An all-to-all operator over rows.
pub struct RowExchange {
    name: String,
    op: RowOp,
}

impl RowExchange {
    /// `op`, named as written.
    pub fn new(name: impl Into<String>, op: RowOp) -> Self {
        Self {
            name: name.into(),
            op,
        }
    }

    /// The sort order this operator's runs and merge use, if it sorts.
    fn order(&self) -> Option<Vec<SortKey>> {
        match &self.op {
            RowOp::Sort(keys) => Some(keys.clone()),
            RowOp::RandomShuffle { .. } => Some(vec![SortKey::ascending(RANDOM_KEY)]),
            RowOp::MapGroups { keys, .. } => Some(keys.iter().map(SortKey::ascending).collect()),
            RowOp::RandomizeBlockOrder { .. } | RowOp::Repartition(_) => None,
        }
    }
}

impl Exchange for RowExchange {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn run(
        &self,
        input: &Plan,
        options: &ExecOptions,
        report: &Mutex<Option<RunStats>>,
    ) -> Result<Vec<Box<dyn Split>>> {
        let order = self.order();
        let seed = match self.op {
            RowOp::RandomShuffle { seed } => Some(seed),
            _ => None,
        };
        let chunks = buffer(&self.name, input, options, order.clone(), seed, report)?;
        let name: Arc<str> = self.name.as_str().into();
        let splits: Vec<Box<dyn Split>> = match &self.op {
            RowOp::Sort(_) | RowOp::RandomShuffle { .. } | RowOp::MapGroups { .. } => {
                let order = order.expect("these sort");
                let merge = Merge {
                    name: name.clone(),
                    runs: Mutex::new(chunks),
                    order,
                    schema: input.schema.clone(),
                    op: self.op.clone(),
                    fan_in_bytes: Shares::of(options).merge_fan_in(),
                    spill: LazySpill::new(options.spill_dir.clone()),
                };
                vec![Box::new(merge)]
            }
            RowOp::RandomizeBlockOrder { seed } => {
                let mut chunks: Vec<Arc<Chunk>> = chunks.into_iter().map(Arc::new).collect();
                let mut rng = <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(*seed);
                rand::seq::SliceRandom::shuffle(chunks.as_mut_slice(), &mut rng);
                chunks
                    .into_iter()
                    .enumerate()
                    .map(|(i, chunk)| {
                        let rows = chunk.rows;
                        Box::new(Ranges {
                            name: format!("{name}[{i}]").into(),
                            pieces: Mutex::new(vec![(chunk, 0..rows)]),
                        }) as Box<dyn Split>
                    })
                    .collect()
            }
            RowOp::Repartition(n) => repartition(&name, chunks, (*n).max(1)),
        };
        Ok(splits)
    }
}

/// Run `input`, buffering its output (spilled past the budget) in chunks sorted by input
/// position; with an `order`, each chunk is a sorted run.
pub(super) fn buffer(
    name: &str,
    input: &Plan,
    options: &ExecOptions,
    order: Option<Vec<SortKey>>,
    seed: Option<u64>,
    report: &Mutex<Option<RunStats>>,
) -> Result<Vec<Chunk>> {
    let shares = Shares::of(options);
    let store = Arc::new(Store {
        chunks: Mutex::default(),
        bytes: AtomicUsize::new(0),
        limit: shares.exchange_held(),
        spill: LazySpill::new(options.spill_dir.clone()),
    });
    let collector = Arc::new(Buffering {
        name: name.to_owned(),
        store: store.clone(),
        order,
        seed,
        run_limit: shares.worker_buffer(64 << 10),
    });
    super::collect_phase(input, options, collector, &store.spill, report)?;
    let mut chunks = std::mem::take(&mut *store.chunks.lock().recover());
    chunks.sort_by_key(|c| c.tag);
    Ok(chunks)
}

/// A buffered piece of the input: blocks, in memory or spilled.
pub(super) struct Chunk {
    /// (split, sequence within the split): the input order.
    tag: (usize, usize),
    rows: usize,
    data: ChunkData,
}

enum ChunkData {
    Memory(Vec<RecordBatch>, usize),
    /// Blocks `range` of a spill file.
    Spilled(Arc<SpillFile>, std::ops::Range<usize>),
}

impl Chunk {
    /// Rows in the chunk.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// The chunk's blocks, read one at a time.
    fn blocks(&self) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + '_>> {
        Ok(match &self.data {
            ChunkData::Memory(blocks, _) => Box::new(blocks.iter().cloned().map(Ok)),
            ChunkData::Spilled(file, range) => Box::new(file.blocks(range.clone())?),
        })
    }
}

/// Chunks of every split, spilled together when over the limit.
struct Store {
    chunks: Mutex<Vec<Chunk>>,
    bytes: AtomicUsize,
    limit: usize,
    spill: LazySpill,
}

impl Store {
    fn add(&self, tag: (usize, usize), blocks: Vec<RecordBatch>) -> Result<()> {
        let rows = blocks.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(());
        }
        let bytes = blocks.iter().map(crate::budget::block_bytes).sum();
        let mut chunks = self.chunks.lock().recover();
        chunks.push(Chunk {
            tag,
            rows,
            data: ChunkData::Memory(blocks, bytes),
        });
        if self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes > self.limit {
            self.spill_all(&mut chunks)?;
        }
        Ok(())
    }

    /// Write every chunk held in memory to one file.
    fn spill_all(&self, chunks: &mut [Chunk]) -> Result<()> {
        let dir = self.spill.get()?;
        let mut blocks = Vec::new();
        let mut ranges = Vec::new();
        let mut freed = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            if let ChunkData::Memory(held, bytes) = &chunk.data {
                ranges.push((i, blocks.len()..blocks.len() + held.len()));
                blocks.extend(held.iter().cloned());
                freed += bytes;
            }
        }
        if blocks.is_empty() {
            return Ok(());
        }
        // Blocks of several schemas cannot share a file; every chunk here has the input's.
        let file = Arc::new(dir.write(&blocks)?);
        for (i, range) in ranges {
            chunks[i].data = ChunkData::Spilled(file.clone(), range);
        }
        self.bytes.fetch_sub(freed, Ordering::Relaxed);
        Ok(())
    }
}

/// The first phase: each split's blocks buffered (sorted into runs when the operator sorts).
struct Buffering {
    name: String,
    store: Arc<Store>,
    order: Option<Vec<SortKey>>,
    /// A shuffle's seed: its rows get a random key to sort by.
    seed: Option<u64>,
    /// Bytes of a sorted run.
    run_limit: usize,
}

impl Collector for Buffering {
    type Made = ();

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn part(&self, split: usize) -> Box<dyn CollectPart<Made = ()> + '_> {
        Box::new(BufferPart {
            collector: self,
            split,
            sequence: 0,
            rows_seen: 0,
            pending: Vec::new(),
            pending_bytes: 0,
        })
    }
}

struct BufferPart<'a> {
    collector: &'a Buffering,
    split: usize,
    sequence: usize,
    rows_seen: u64,
    pending: Vec<RecordBatch>,
    pending_bytes: usize,
}

impl BufferPart<'_> {
    /// Hand the pending blocks to the store, as a sorted run when the operator sorts.
    fn flush(&mut self) -> Result<()> {
        let blocks = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        if blocks.is_empty() {
            return Ok(());
        }
        let blocks = match &self.collector.order {
            Some(order) => sort_run(&blocks, order).map_err(|reason| Error::Exchange {
                stage: self.collector.name.clone(),
                reason,
            })?,
            None => blocks,
        };
        self.collector
            .store
            .add((self.split, self.sequence), blocks)?;
        self.sequence += 1;
        Ok(())
    }
}

impl CollectPart for BufferPart<'_> {
    type Made = ();

    fn push(&mut self, batch: RecordBatch) -> Result<(), PartError> {
        let batch = match self.collector.seed {
            Some(seed) => {
                let keyed = with_random_key(&batch, seed, self.split, self.rows_seen)?;
                self.rows_seen += batch.num_rows() as u64;
                keyed
            }
            None => batch,
        };
        self.pending_bytes += crate::budget::block_bytes(&batch);
        self.pending.push(batch);
        if self.collector.order.is_none() || self.pending_bytes > self.collector.run_limit {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.flush()?;
        Ok(())
    }
}

/// `batch` with a random sort key per row, a function of the seed and the row's position in
/// its split only, so the shuffle is the same whatever the timing of the workers.
fn with_random_key(
    batch: &RecordBatch,
    seed: u64,
    split: usize,
    first: u64,
) -> Result<RecordBatch, String> {
    let hasher =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
    let keys: UInt64Array = (0..batch.num_rows() as u64)
        .map(|i| {
            let mut h = hasher.build_hasher();
            h.write_u64(seed);
            h.write_usize(split);
            h.write_u64(first + i);
            h.finish()
        })
        .collect();
    let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(RANDOM_KEY, DataType::UInt64, false)));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(keys));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

fn sort_options(key: &SortKey) -> SortOptions {
    SortOptions {
        descending: key.descending,
        nulls_first: key.nulls_first,
    }
}

/// Blocks sorted as one run, cut into blocks of [`BLOCK_ROWS`].
fn sort_run(blocks: &[RecordBatch], order: &[SortKey]) -> Result<Vec<RecordBatch>, String> {
    let all = concat_batches(&blocks[0].schema(), blocks).map_err(|e| e.to_string())?;
    let columns = order
        .iter()
        .map(|key| {
            Ok(SortColumn {
                values: key_column(
                    all.column_by_name(&key.column)
                        .ok_or_else(|| format!("missing column `{}`", key.column))?,
                ),
                options: Some(sort_options(key)),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let indices = lexsort_to_indices(&columns, None).map_err(|e| e.to_string())?;
    let sorted = take_record_batch(&all, &indices).map_err(|e| e.to_string())?;
    Ok((0..sorted.num_rows())
        .step_by(BLOCK_ROWS)
        .map(|start| sorted.slice(start, BLOCK_ROWS.min(sorted.num_rows() - start)))
        .collect())
}

/// A sort key column as it is compared: every NaN as the one positive NaN. Arrow orders floats
/// by `total_cmp`, which puts a NaN with its sign bit set (what x86 makes of `inf - inf`) before
/// every number and orders NaNs by payload; NaN sorts as the greatest value whatever its bits,
/// as in DuckDB and Polars, and NaNs tie (broken by the next key).
fn key_column(column: &ArrayRef) -> ArrayRef {
    macro_rules! positive_nan {
        ($ty:ty, $nan:expr) => {{
            let values = column.as_primitive::<$ty>();
            if !values
                .values()
                .iter()
                .any(|v| v.is_nan() && v.to_bits() != $nan.to_bits())
            {
                return column.clone();
            }
            Arc::new(values.unary::<_, $ty>(|v| if v.is_nan() { $nan } else { v }))
        }};
    }
    match column.data_type() {
        DataType::Float64 => positive_nan!(Float64Type, f64::NAN),
        DataType::Float32 => positive_nan!(Float32Type, f32::NAN),
        _ => column.clone(),
    }
}

/// A converter to arrow's row format for the order's columns of `schema`.
fn converter(schema: &Schema, order: &[SortKey]) -> Result<(RowConverter, Vec<usize>), String> {
    let mut fields = Vec::new();
    let mut indices = Vec::new();
    for key in order {
        let index = schema
            .index_of(&key.column)
            .map_err(|_| format!("missing column `{}`", key.column))?;
        fields.push(SortField::new_with_options(
            schema.field(index).data_type().clone(),
            sort_options(key),
        ));
        indices.push(index);
    }
    Ok((
        RowConverter::new(fields).map_err(|e| e.to_string())?,
        indices,
    ))
}

fn rows_of(
    converter: &RowConverter,
    indices: &[usize],
    batch: &RecordBatch,
) -> Result<Rows, String> {
    let columns: Vec<ArrayRef> = indices
        .iter()
        .map(|&i| key_column(batch.column(i)))
        .collect();
    converter
        .convert_columns(&columns)
        .map_err(|e| e.to_string())
}

/// The sorted output: a k-way merge of the runs.
struct Merge {
    name: Arc<str>,
    runs: Mutex<Vec<Chunk>>,
    order: Vec<SortKey>,
    /// The input's schema (without a shuffle's key).
    schema: SchemaRef,
    op: RowOp,
    /// Bytes of blocks a merge may read at once, one per run (`Shares::merge_fan_in`).
    fan_in_bytes: usize,
    /// Intermediate merges' spill directory, held only while the split is read: an error
    /// must not leave it behind for as long as the run's splits live.
    spill: LazySpill,
}

/// A run being merged: its blocks, the current one and its rows.
struct Cursor<'a> {
    blocks: Box<dyn Iterator<Item = Result<RecordBatch>> + 'a>,
    batch: RecordBatch,
    rows: Rows,
    row: usize,
    /// Where the current block is in the output's list of blocks.
    slot: usize,
}

impl Split for Merge {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let runs = std::mem::take(&mut *self.runs.lock().recover());
        let result = self.reduce(runs).and_then(|runs| {
            let mut output = Output::new(self, emit)?;
            if !self.merge(&runs, &mut |block| output.push(block))? {
                return Ok(());
            }
            output.finish()
        });
        self.spill.release();
        result
    }
}

impl Merge {
    fn failed(&self, reason: String) -> Error {
        Error::Exchange {
            stage: self.name.to_string(),
            reason,
        }
    }

    /// Merge runs into longer ones (spilled) until few enough are left that one block of each
    /// fits a quarter of the budget together.
    fn reduce(&self, mut runs: Vec<Chunk>) -> Result<Vec<Chunk>> {
        let Some(first) = runs.first() else {
            return Ok(runs);
        };
        let Some(block) = first.blocks()?.next().transpose()? else {
            return Ok(runs);
        };
        let per_block = crate::budget::block_bytes(&block).max(1);
        let fan_in = (self.fan_in_bytes / per_block).clamp(2, 1024);
        let mut merged = 0;
        while runs.len() > fan_in {
            let dir = self.spill.get()?;
            let group: Vec<Chunk> = runs.drain(..fan_in).collect();
            let mut writer = dir.writer(&block.schema())?;
            self.merge(&group, &mut |b| writer.write(&b).map(|_| true))?;
            let blocks = writer.blocks();
            let file = writer.finish()?;
            runs.push(Chunk {
                tag: (usize::MAX, merged),
                rows: file.rows(),
                data: ChunkData::Spilled(Arc::new(file), 0..blocks),
            });
            merged += 1;
        }
        Ok(runs)
    }

    /// A k-way merge of `runs` into blocks of [`BLOCK_ROWS`], handed to `out`; `false` when
    /// `out` asked to stop.
    fn merge(
        &self,
        runs: &[Chunk],
        out: &mut dyn FnMut(RecordBatch) -> Result<bool>,
    ) -> Result<bool> {
        let Some(first) = runs.first() else {
            return Ok(true);
        };
        let first_schema = first.blocks()?.next().transpose()?.map(|b| b.schema());
        let Some(schema) = first_schema else {
            return Ok(true);
        };
        let (converter, indices) = converter(&schema, &self.order).map_err(|r| self.failed(r))?;
        // Open every run at its first block.
        let mut slots: Vec<RecordBatch> = Vec::new();
        let mut cursors: Vec<Cursor> = Vec::with_capacity(runs.len());
        for run in runs {
            let mut blocks = run.blocks()?;
            if let Some(batch) = blocks.next().transpose()? {
                let rows = rows_of(&converter, &indices, &batch).map_err(|r| self.failed(r))?;
                slots.push(batch.clone());
                cursors.push(Cursor {
                    blocks,
                    batch,
                    rows,
                    row: 0,
                    slot: slots.len() - 1,
                });
            }
        }
        // A binary heap of cursor indices, smallest current row on top.
        let mut heap: Vec<usize> = (0..cursors.len()).collect();
        let less = |cursors: &[Cursor], a: usize, b: usize| {
            let (x, y) = (&cursors[a], &cursors[b]);
            x.rows.row(x.row) < y.rows.row(y.row)
        };
        for i in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, i, &cursors, &less);
        }
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(BLOCK_ROWS);
        while let Some(&top) = heap.first() {
            let cursor = &mut cursors[top];
            picks.push((cursor.slot, cursor.row));
            cursor.row += 1;
            if cursor.row == cursor.batch.num_rows() {
                match cursor.blocks.next().transpose()? {
                    Some(batch) => {
                        cursor.rows =
                            rows_of(&converter, &indices, &batch).map_err(|r| self.failed(r))?;
                        slots.push(batch.clone());
                        cursor.slot = slots.len() - 1;
                        cursor.batch = batch;
                        cursor.row = 0;
                    }
                    None => {
                        let last = heap.len() - 1;
                        heap.swap(0, last);
                        heap.pop();
                    }
                }
            }
            if !heap.is_empty() {
                sift_down(&mut heap, 0, &cursors, &less);
            }
            if picks.len() == BLOCK_ROWS || heap.is_empty() {
                let refs: Vec<&RecordBatch> = slots.iter().collect();
                let block = interleave_record_batch(&refs, &picks)?;
                picks.clear();
                // Blocks no cursor still reads are released.
                let live: Vec<usize> = cursors.iter().map(|c| c.slot).collect();
                let mut renumber = vec![usize::MAX; slots.len()];
                let mut kept = Vec::new();
                for (i, slot) in slots.drain(..).enumerate() {
                    if live.contains(&i) {
                        renumber[i] = kept.len();
                        kept.push(slot);
                    }
                }
                slots = kept;
                for cursor in &mut cursors {
                    cursor.slot = renumber[cursor.slot];
                }
                if !out(block)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

fn sift_down<F: Fn(&[Cursor], usize, usize) -> bool>(
    heap: &mut [usize],
    mut i: usize,
    cursors: &[Cursor],
    less: &F,
) {
    loop {
        let (left, right) = (2 * i + 1, 2 * i + 2);
        let mut smallest = i;
        if left < heap.len() && less(cursors, heap[left], heap[smallest]) {
            smallest = left;
        }
        if right < heap.len() && less(cursors, heap[right], heap[smallest]) {
            smallest = right;
        }
        if smallest == i {
            return;
        }
        heap.swap(i, smallest);
        i = smallest;
    }
}

/// Where merged blocks go: straight out (sort), without the random key (shuffle), or cut into
/// groups for a user function (map_groups).
struct Output<'a> {
    merge: &'a Merge,
    emit: &'a mut dyn FnMut(RecordBatch) -> Result<bool>,
    /// map_groups: the current group's rows so far, its key, and the key columns' converter.
    group: Vec<RecordBatch>,
    group_key: Option<OwnedRow>,
    keys: Option<(RowConverter, Vec<String>)>,
    groups: usize,
}

impl<'a> Output<'a> {
    fn new(merge: &'a Merge, emit: &'a mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<Self> {
        let keys = match &merge.op {
            RowOp::MapGroups { keys, .. } => {
                let order: Vec<SortKey> = keys.iter().map(SortKey::ascending).collect();
                let (converter, _) =
                    converter(&merge.schema, &order).map_err(|reason| Error::Exchange {
                        stage: merge.name.to_string(),
                        reason,
                    })?;
                Some((converter, keys.clone()))
            }
            _ => None,
        };
        Ok(Self {
            merge,
            emit,
            group: Vec::new(),
            group_key: None,
            keys,
            groups: 0,
        })
    }

    fn push(&mut self, block: RecordBatch) -> Result<bool> {
        match &self.merge.op {
            RowOp::RandomShuffle { .. } => {
                let keep: Vec<usize> = (0..block.num_columns() - 1).collect();
                (self.emit)(block.project(&keep)?)
            }
            RowOp::MapGroups { .. } => self.cut_groups(block),
            _ => (self.emit)(block),
        }
    }

    /// Split a sorted block where the key changes; each finished group goes to the function.
    fn cut_groups(&mut self, block: RecordBatch) -> Result<bool> {
        let (converter, names) = self.keys.as_ref().expect("map_groups has keys");
        let columns: Vec<ArrayRef> = names
            .iter()
            .map(|n| {
                block
                    .column_by_name(n)
                    .expect("checked when sorted")
                    .clone()
            })
            .collect();
        let rows = converter.convert_columns(&columns)?;
        let mut start = 0;
        for i in 0..block.num_rows() {
            let same = match &self.group_key {
                Some(key) => key.row() == rows.row(i),
                None => true,
            };
            if !same {
                if i > start {
                    self.group.push(block.slice(start, i - start));
                }
                start = i;
                if !self.call_group()? {
                    return Ok(false);
                }
            }
            if self.group_key.is_none() || !same {
                self.group_key = Some(rows.row(i).owned());
            }
        }
        if block.num_rows() > start {
            self.group
                .push(block.slice(start, block.num_rows() - start));
        }
        Ok(true)
    }

    fn call_group(&mut self) -> Result<bool> {
        let group = std::mem::take(&mut self.group);
        if group.is_empty() {
            return Ok(true);
        }
        let RowOp::MapGroups { func, .. } = &self.merge.op else {
            unreachable!("only map_groups groups")
        };
        let batch = concat_batches(&group[0].schema(), &group)?;
        let id = BlockId {
            split: self.merge.name.clone(),
            block: self.groups,
        };
        self.groups += 1;
        let stage = self.merge.name.to_string();
        let out = guard_stage(|| stage.clone(), &id, || func(batch), StageError::at)?;
        (self.emit)(out)
    }

    fn finish(mut self) -> Result<()> {
        if self.keys.is_some() {
            self.call_group()?;
        }
        Ok(())
    }
}

/// `n` splits over the chunks (in input order) with nearly equal rows.
fn repartition(name: &Arc<str>, chunks: Vec<Chunk>, n: usize) -> Vec<Box<dyn Split>> {
    let total: usize = chunks.iter().map(|c| c.rows).sum();
    let bounds: Vec<usize> = (0..=n).map(|i| total * i / n).collect();
    cut(chunks, &bounds)
        .into_iter()
        .enumerate()
        .map(|(i, pieces)| {
            Box::new(Ranges {
                name: format!("{name}[{i}]").into(),
                pieces: Mutex::new(pieces),
            }) as Box<dyn Split>
        })
        .collect()
}

/// The pieces of `chunks` (in order) between consecutive row `bounds`.
pub(super) fn cut(chunks: Vec<Chunk>, bounds: &[usize]) -> Vec<Vec<Piece>> {
    let chunks: Vec<Arc<Chunk>> = chunks.into_iter().map(Arc::new).collect();
    let (mut chunk, mut offset) = (0, 0);
    bounds
        .windows(2)
        .map(|w| {
            let mut want = w[1] - w[0];
            let mut pieces = Vec::new();
            while want > 0 {
                let c = &chunks[chunk];
                let take = want.min(c.rows - offset);
                pieces.push((c.clone(), offset..offset + take));
                want -= take;
                offset += take;
                if offset == c.rows {
                    chunk += 1;
                    offset = 0;
                }
            }
            pieces
        })
        .collect()
}

/// Rows `range` of a buffered chunk.
pub(super) type Piece = (Arc<Chunk>, std::ops::Range<usize>);

/// Row ranges of buffered chunks, released (with their spill files) once read.
pub(super) struct Ranges {
    pub(super) name: Arc<str>,
    pub(super) pieces: Mutex<Vec<Piece>>,
}

impl Split for Ranges {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let pieces = std::mem::take(&mut *self.pieces.lock().recover());
        for (chunk, range) in &pieces {
            let mut at = 0;
            for block in chunk.blocks()? {
                let block = block?;
                let (start, end) = (at, at + block.num_rows());
                at = end;
                let (from, to) = (range.start.max(start), range.end.min(end));
                if from < to && !emit(block.slice(from - start, to - from))? {
                    return Ok(());
                }
                if end >= range.end {
                    break;
                }
            }
        }
        Ok(())
    }
}
