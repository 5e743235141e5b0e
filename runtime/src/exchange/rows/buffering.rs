//! The collector of a row exchange's first phase: each split's blocks buffered (a shuffle's
//! with a seeded random key), sorted into runs when the operator sorts.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::sort::{run_keys, sort_run};
use super::store::Store;
use super::{RANDOM_KEY, SortKey};
use crate::collect::{CollectPart, Collector, PartError};
use crate::error::{Error, Result};

/// The first phase: each split's blocks buffered (sorted into runs when the operator sorts).
pub(super) struct Buffering {
    pub(super) name: String,
    pub(super) store: Arc<Store>,
    pub(super) order: Option<Vec<SortKey>>,
    /// A shuffle's seed: its rows get a random key to sort by.
    pub(super) seed: Option<u64>,
    /// Bytes of a sorted run.
    pub(super) run_limit: usize,
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

pub(super) struct BufferPart<'a> {
    pub(super) collector: &'a Buffering,
    pub(super) split: usize,
    pub(super) sequence: usize,
    pub(super) rows_seen: u64,
    pub(super) pending: Vec<RecordBatch>,
    pub(super) pending_bytes: usize,
}

impl BufferPart<'_> {
    /// Hand the pending blocks to the store, as a sorted run when the operator sorts.
    pub(super) fn flush(&mut self) -> Result<()> {
        let blocks = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        if blocks.is_empty() {
            return Ok(());
        }
        let failed = |reason| Error::Exchange {
            stage: self.collector.name.clone(),
            reason,
        };
        let (blocks, keys) = match &self.collector.order {
            Some(order) => {
                let blocks = sort_run(&blocks, order).map_err(failed)?;
                let seed = ((self.split as u64) << 32) ^ self.sequence as u64;
                let keys = run_keys(&blocks, order, seed).map_err(failed)?;
                (blocks, Some(keys))
            }
            None => (blocks, None),
        };
        self.collector
            .store
            .add((self.split, self.sequence), blocks, keys)?;
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
pub(super) fn with_random_key(
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
