//! In-memory sources: `from_items`, `from_arrow` and materialized datasets.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::{Source, Split, conform};
use crate::error::{Error, Result};
use crate::record::Record;

/// Rows per block made from `from_items`.
const ITEM_BLOCK_ROWS: usize = 8192;
/// Blocks per split of `from_items`: splits are the unit of parallelism, and `map_batches`
/// batches never span splits.
const ITEM_SPLIT_BLOCKS: usize = 8;

/// Blocks already in memory, in splits of one or more blocks.
pub struct MemorySource {
    label: &'static str,
    blocks: Arc<[RecordBatch]>,
    blocks_per_split: usize,
    /// Blocks given by the user are checked against their declared record when read.
    declared: Option<(SchemaRef, &'static str)>,
}

impl MemorySource {
    /// A source over `blocks`, described as `label` (e.g. `materialized`).
    pub fn new(label: &'static str, blocks: impl Into<Arc<[RecordBatch]>>) -> Self {
        Self {
            label,
            blocks: blocks.into(),
            blocks_per_split: 1,
            declared: None,
        }
    }

    /// `from_items`: records, converted to blocks of up to 8192 rows.
    pub fn from_items<R: Record>(rows: impl IntoIterator<Item = R>) -> Self {
        let rows: Vec<R> = rows.into_iter().collect();
        let blocks: Vec<RecordBatch> = rows.chunks(ITEM_BLOCK_ROWS).map(R::to_batch).collect();
        Self {
            blocks_per_split: ITEM_SPLIT_BLOCKS,
            ..Self::new("from_items", blocks)
        }
    }

    /// `from_arrow`: batches that must match record `R` (checked per block when read).
    pub fn from_arrow<R: Record>(batches: impl IntoIterator<Item = RecordBatch>) -> Self {
        Self {
            declared: Some((R::schema(), R::NAME)),
            ..Self::new("from_arrow", batches.into_iter().collect::<Vec<_>>())
        }
    }

    /// The blocks.
    pub fn blocks(&self) -> &[RecordBatch] {
        &self.blocks
    }
}

impl Source for MemorySource {
    fn describe(&self) -> String {
        let rows: usize = self.blocks.iter().map(|b| b.num_rows()).sum();
        format!("{} ({} blocks, {rows} rows)", self.label, self.blocks.len())
    }

    fn splits(&self, _options: &crate::options::ExecOptions) -> Result<Vec<Box<dyn Split>>> {
        let splits = self.blocks.len().div_ceil(self.blocks_per_split);
        Ok((0..splits)
            .map(|index| {
                let start = index * self.blocks_per_split;
                Box::new(MemorySplit {
                    name: format!("{}[{index}]", self.label).into(),
                    blocks: self.blocks.clone(),
                    range: start..(start + self.blocks_per_split).min(self.blocks.len()),
                    declared: self.declared.clone(),
                }) as Box<dyn Split>
            })
            .collect())
    }
}

struct MemorySplit {
    name: Arc<str>,
    blocks: Arc<[RecordBatch]>,
    range: std::ops::Range<usize>,
    declared: Option<(SchemaRef, &'static str)>,
}

impl Split for MemorySplit {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        for (number, block) in self.blocks[self.range.clone()].iter().enumerate() {
            let block = match &self.declared {
                None => block.clone(),
                Some((schema, record)) => {
                    conform(block, schema).map_err(|reason| Error::SchemaMismatch {
                        url: format!("{}, block {number}", self.name),
                        record: (*record).to_owned(),
                        reason,
                    })?
                }
            };
            if !emit(block)? {
                break;
            }
        }
        Ok(())
    }
}
