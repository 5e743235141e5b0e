//! In-memory sources: `from_items`, `from_arrow` and materialized datasets.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::{Source, Split, conform};
use crate::error::{Error, Result};
use crate::record::Record;

/// Rows per block made from `from_items`.
const ITEM_BLOCK_ROWS: usize = 8192;

/// Blocks already in memory; each block is a split.
pub struct MemorySource {
    label: &'static str,
    blocks: Arc<[RecordBatch]>,
    /// Blocks given by the user are checked against their declared record when read.
    declared: Option<(SchemaRef, &'static str)>,
}

impl MemorySource {
    /// A source over `blocks`, described as `label` (e.g. `materialized`).
    pub fn new(label: &'static str, blocks: impl Into<Arc<[RecordBatch]>>) -> Self {
        Self {
            label,
            blocks: blocks.into(),
            declared: None,
        }
    }

    /// `from_items`: records, converted to blocks of up to 8192 rows.
    pub fn from_items<R: Record>(rows: impl IntoIterator<Item = R>) -> Self {
        let rows: Vec<R> = rows.into_iter().collect();
        let blocks: Vec<RecordBatch> = rows.chunks(ITEM_BLOCK_ROWS).map(R::to_batch).collect();
        Self::new("from_items", blocks)
    }

    /// `from_arrow`: batches that must match record `R` (checked per block when read).
    pub fn from_arrow<R: Record>(batches: impl IntoIterator<Item = RecordBatch>) -> Self {
        Self {
            label: "from_arrow",
            blocks: batches.into_iter().collect(),
            declared: Some((R::schema(), R::NAME)),
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

    fn splits(&self) -> Result<Vec<Box<dyn Split>>> {
        Ok((0..self.blocks.len())
            .map(|index| {
                Box::new(MemorySplit {
                    name: format!("{}[{index}]", self.label).into(),
                    blocks: self.blocks.clone(),
                    index,
                    declared: self.declared.clone(),
                }) as Box<dyn Split>
            })
            .collect())
    }
}

struct MemorySplit {
    name: Arc<str>,
    blocks: Arc<[RecordBatch]>,
    index: usize,
    declared: Option<(SchemaRef, &'static str)>,
}

impl Split for MemorySplit {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let block = &self.blocks[self.index];
        let block = match &self.declared {
            None => block.clone(),
            Some((schema, record)) => {
                conform(block, schema).map_err(|reason| Error::SchemaMismatch {
                    url: self.name.to_string(),
                    record: (*record).to_owned(),
                    reason,
                })?
            }
        };
        emit(block).map(|_| ())
    }
}
