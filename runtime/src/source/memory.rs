//! In-memory sources: `from_items`, `from_arrow` and materialized datasets.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::{Source, Split};
use crate::error::Result;

/// Blocks already in memory; each block is a split.
pub struct MemorySource {
    label: &'static str,
    blocks: Arc<[RecordBatch]>,
}

impl MemorySource {
    /// A source over `blocks`, described as `label` (e.g. `from_items`).
    pub fn new(label: &'static str, blocks: impl Into<Arc<[RecordBatch]>>) -> Self {
        Self {
            label,
            blocks: blocks.into(),
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
                }) as Box<dyn Split>
            })
            .collect())
    }
}

struct MemorySplit {
    name: Arc<str>,
    blocks: Arc<[RecordBatch]>,
    index: usize,
}

impl Split for MemorySplit {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        emit(self.blocks[self.index].clone()).map(|_| ())
    }
}
