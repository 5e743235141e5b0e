//! The k-way merge of sorted runs into the output (reduced first, through spill files, to a
//! fan-in the budget holds), cut into blocks or, for map_groups, into groups. When the runs
//! are few enough to merge at once (in memory or spilled), the output is cut into ranges of
//! keys, one split each, merged in parallel: the splits in order are the sorted output.

use std::sync::{Arc, Mutex};

use arrow::array::ArrayRef;
use arrow::compute::{concat_batches, interleave_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{OwnedRow, RowConverter, Rows};

use super::sort::{converter, rows_of};
use super::store::{Chunk, ChunkData};
use super::{BLOCK_ROWS, RowOp, SortKey};
use crate::error::{BlockId, Cause, Error, Result, StageError, guard_stage};
use crate::exchange::spill::LazySpill;
use crate::source::Split;
use crate::sync::Recover;

/// The sorted output, or one range of it: a k-way merge of the runs.
pub(super) struct Merge {
    /// The operator, as `explain()` names it: the stage of its errors.
    pub(super) name: Arc<str>,
    /// This split: the operator's name, with the range's number when the output is cut.
    pub(super) split: Arc<str>,
    pub(super) runs: Runs,
    pub(super) order: Vec<SortKey>,
    /// The input's schema (without a shuffle's key).
    pub(super) schema: SchemaRef,
    pub(super) op: RowOp,
    /// Bytes of blocks a merge may read at once, one per run (`Shares::merge_fan_in`).
    pub(super) fan_in_bytes: usize,
    /// Intermediate merges' spill directory, held only while the split is read: an error
    /// must not leave it behind for as long as the run's splits live.
    pub(super) spill: LazySpill,
}

/// The runs a merge reads.
pub(super) enum Runs {
    /// All of them, for the one split of the output: taken when it is read, and reduced to
    /// the fan-in first.
    All(Mutex<Vec<Chunk>>),
    /// Runs within the fan-in, shared by the splits of the output's ranges; this split
    /// merges the rows whose key is in `range`.
    Range(Arc<Vec<Chunk>>, KeyRange),
}

/// Keys from `from` (included) up to `to` (excluded), in the merge's row format; `None`:
/// unbounded. Rows with one key are all on one side of a bound: a group is never cut.
#[derive(Clone, Default)]
pub(super) struct KeyRange {
    pub(super) from: Option<OwnedRow>,
    pub(super) to: Option<OwnedRow>,
}

/// A run being merged: its blocks, the current one and its rows.
pub(super) struct Cursor<'a> {
    pub(super) blocks: Box<dyn Iterator<Item = Result<RecordBatch>> + 'a>,
    pub(super) batch: RecordBatch,
    pub(super) rows: Rows,
    pub(super) row: usize,
    /// Where the current block is in the output's list of blocks.
    pub(super) slot: usize,
}

impl Split for Merge {
    fn name(&self) -> Arc<str> {
        self.split.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let merge_into = |runs: &[Chunk], range: &KeyRange, emit| {
            let mut output = Output::new(self, emit)?;
            if !self.merge(runs, range, &mut |block| output.push(block))? {
                return Ok(());
            }
            output.finish()
        };
        match &self.runs {
            Runs::All(runs) => {
                let runs = std::mem::take(&mut *runs.lock().recover());
                let result = self
                    .reduce(runs)
                    .and_then(|runs| merge_into(&runs, &KeyRange::default(), emit));
                self.spill.release();
                result
            }
            Runs::Range(runs, range) => merge_into(runs, range, emit),
        }
    }
}

impl Merge {
    pub(super) fn failed(&self, reason: impl Into<Cause>) -> Error {
        Error::Exchange {
            stage: self.name.to_string(),
            reason: reason.into(),
        }
    }

    /// The output as splits: `ranges` ranges of keys merged in parallel, cut where the runs'
    /// block boundaries say, when the runs are within the fan-in (in memory or spilled); else
    /// one split that reduces and merges them all.
    pub(super) fn into_ranges(
        self,
        runs: Vec<Chunk>,
        split_bytes: usize,
        threads: usize,
    ) -> Result<Vec<Box<dyn Split>>> {
        let sampled = runs.iter().all(|r| r.keys.is_some());
        let (fits, ranges) = match self.first_block(&runs)? {
            Some(block) => {
                // About one range per `split_bytes` of rows (spilled or not), a few per
                // thread at most.
                let per_row = crate::budget::block_bytes(&block) / block.num_rows().max(1);
                let bytes: usize = runs.iter().map(|r| r.rows * per_row.max(1)).sum();
                let ranges = (bytes / split_bytes.max(1)).clamp(1, 4 * threads.max(1));
                (runs.len() <= self.fan_in(&block), ranges)
            }
            None => (false, 1),
        };
        if ranges <= 1 || !sampled || !fits {
            return Ok(vec![Box::new(Merge {
                runs: Runs::All(Mutex::new(runs)),
                ..self
            })]);
        }
        let bounds = bounds(&runs, ranges);
        let runs = Arc::new(runs);
        let mut from = None;
        let mut splits: Vec<Box<dyn Split>> = Vec::with_capacity(bounds.len() + 1);
        for to in bounds.into_iter().map(Some).chain([None]) {
            let range = KeyRange {
                from: from.clone(),
                to: to.clone(),
            };
            splits.push(Box::new(Merge {
                name: self.name.clone(),
                split: format!("{}[{}]", self.name, splits.len()).into(),
                runs: Runs::Range(runs.clone(), range),
                order: self.order.clone(),
                schema: self.schema.clone(),
                op: self.op.clone(),
                fan_in_bytes: self.fan_in_bytes,
                spill: self.spill.another(),
            }));
            from = to;
        }
        Ok(splits)
    }

    fn first_block(&self, runs: &[Chunk]) -> Result<Option<RecordBatch>> {
        match runs.first() {
            Some(first) => first.blocks()?.next().transpose(),
            None => Ok(None),
        }
    }

    /// How many runs a merge reads at once: one block of each fits its share of the budget.
    fn fan_in(&self, block: &RecordBatch) -> usize {
        let per_block = crate::budget::block_bytes(block).max(1);
        (self.fan_in_bytes / per_block).clamp(2, 1024)
    }

    /// Merge runs into longer ones (spilled) until few enough are left that one block of each
    /// fits a quarter of the budget together.
    pub(super) fn reduce(&self, mut runs: Vec<Chunk>) -> Result<Vec<Chunk>> {
        let Some(block) = self.first_block(&runs)? else {
            return Ok(runs);
        };
        let fan_in = self.fan_in(&block);
        let mut merged = 0;
        while runs.len() > fan_in {
            let dir = self.spill.get()?;
            let group: Vec<Chunk> = runs.drain(..fan_in).collect();
            let mut writer = dir.writer(&block.schema())?;
            self.merge(&group, &KeyRange::default(), &mut |b| {
                writer.write(&b).map(|_| true)
            })?;
            let blocks = writer.blocks();
            let file = writer.finish()?;
            runs.push(Chunk {
                tag: (usize::MAX, merged),
                rows: file.rows(),
                data: ChunkData::Spilled(Arc::new(file), 0..blocks),
                keys: None,
            });
            merged += 1;
        }
        Ok(runs)
    }

    /// A k-way merge of the rows of `runs` in `range` into blocks of [`BLOCK_ROWS`], handed
    /// to `out`; `false` when `out` asked to stop.
    pub(super) fn merge(
        &self,
        runs: &[Chunk],
        range: &KeyRange,
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
        // Open every run at its first row in the range.
        let mut slots: Vec<RecordBatch> = Vec::new();
        let mut cursors: Vec<Cursor> = Vec::with_capacity(runs.len());
        for run in runs {
            // A run's blocks before the range's start are not read: the last block starting
            // before it is the first that may hold its keys.
            let first = match (&range.from, &run.keys) {
                (Some(from), Some(keys)) => keys
                    .firsts
                    .partition_point(|key| key < from)
                    .saturating_sub(1),
                _ => 0,
            };
            let mut blocks = run.blocks_from(first)?;
            while let Some(batch) = blocks.next().transpose()? {
                if let Some(from) = &range.from {
                    // A block wholly before the range is passed over on its last key.
                    let last = batch.slice(batch.num_rows() - 1, 1);
                    let last = rows_of(&converter, &indices, &last).map_err(|r| self.failed(r))?;
                    if last.row(0) < from.row() {
                        continue;
                    }
                }
                let rows = rows_of(&converter, &indices, &batch).map_err(|r| self.failed(r))?;
                let row = range
                    .from
                    .as_ref()
                    .map_or(0, |from| first_from(&rows, from));
                slots.push(batch.clone());
                cursors.push(Cursor {
                    blocks,
                    batch,
                    rows,
                    row,
                    slot: slots.len() - 1,
                });
                break;
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
            // The smallest row is past the range: so is every other.
            if let Some(to) = &range.to
                && cursor.rows.row(cursor.row) >= to.row()
            {
                if !picks.is_empty() {
                    let refs: Vec<&RecordBatch> = slots.iter().collect();
                    if !out(interleave_record_batch(&refs, &picks)?)? {
                        return Ok(false);
                    }
                }
                break;
            }
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

/// Up to `ranges - 1` distinct keys cutting the runs' rows into about equal ranges, from
/// the row sampled in every block of every run.
fn bounds(runs: &[Chunk], ranges: usize) -> Vec<OwnedRow> {
    let mut samples: Vec<&OwnedRow> = runs
        .iter()
        .flat_map(|r| r.keys.iter().flat_map(|k| &k.samples))
        .collect();
    if samples.is_empty() {
        return Vec::new();
    }
    samples.sort_unstable();
    let mut bounds: Vec<OwnedRow> = (1..ranges)
        .map(|i| samples[i * samples.len() / ranges].clone())
        .collect();
    bounds.dedup();
    // A bound at the smallest key would leave the first range empty.
    if bounds.first() == samples.first().copied() {
        bounds.remove(0);
    }
    bounds
}

/// The first of sorted `rows` at or after `from`.
fn first_from(rows: &Rows, from: &OwnedRow) -> usize {
    let (mut low, mut high) = (0, rows.num_rows());
    while low < high {
        let middle = (low + high) / 2;
        if rows.row(middle) < from.row() {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

pub(super) fn sift_down<F: Fn(&[Cursor], usize, usize) -> bool>(
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
pub(super) struct Output<'a> {
    pub(super) merge: &'a Merge,
    pub(super) emit: &'a mut dyn FnMut(RecordBatch) -> Result<bool>,
    /// map_groups: the current group's rows so far, its key, and the key columns' converter.
    pub(super) group: Vec<RecordBatch>,
    pub(super) group_key: Option<OwnedRow>,
    pub(super) keys: Option<(RowConverter, Vec<String>)>,
    pub(super) groups: usize,
}

impl<'a> Output<'a> {
    pub(super) fn new(
        merge: &'a Merge,
        emit: &'a mut dyn FnMut(RecordBatch) -> Result<bool>,
    ) -> Result<Self> {
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

    pub(super) fn push(&mut self, block: RecordBatch) -> Result<bool> {
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
    pub(super) fn cut_groups(&mut self, block: RecordBatch) -> Result<bool> {
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

    pub(super) fn call_group(&mut self) -> Result<bool> {
        let group = std::mem::take(&mut self.group);
        if group.is_empty() {
            return Ok(true);
        }
        let RowOp::MapGroups { func, .. } = &self.merge.op else {
            unreachable!("only map_groups groups")
        };
        let batch = concat_batches(&group[0].schema(), &group)?;
        let id = BlockId {
            split: self.merge.split.clone(),
            block: self.groups,
        };
        self.groups += 1;
        let stage = self.merge.name.to_string();
        let out = guard_stage(|| stage.clone(), &id, || func(batch), StageError::at)?;
        (self.emit)(out)
    }

    pub(super) fn finish(mut self) -> Result<()> {
        if self.keys.is_some() {
            self.call_group()?;
        }
        Ok(())
    }
}
