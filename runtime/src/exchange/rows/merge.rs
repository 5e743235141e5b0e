//! The k-way merge of sorted runs into the output (reduced first, through spill files, to a
//! fan-in the budget holds), cut into blocks or, for map_groups, into groups.

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

/// The sorted output: a k-way merge of the runs.
pub(super) struct Merge {
    pub(super) name: Arc<str>,
    pub(super) runs: Mutex<Vec<Chunk>>,
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
    pub(super) fn failed(&self, reason: impl Into<Cause>) -> Error {
        Error::Exchange {
            stage: self.name.to_string(),
            reason: reason.into(),
        }
    }

    /// Merge runs into longer ones (spilled) until few enough are left that one block of each
    /// fits a quarter of the budget together.
    pub(super) fn reduce(&self, mut runs: Vec<Chunk>) -> Result<Vec<Chunk>> {
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
    pub(super) fn merge(
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
            split: self.merge.name.clone(),
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
