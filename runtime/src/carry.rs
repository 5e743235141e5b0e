//! Rows carried from block to block until a batch of an exact size is full: `map_batches`
//! with a `batch_size` inside a split, and batches of a fixed size for training ingest.

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// Blocks held until enough rows are in.
#[derive(Default)]
pub(crate) struct Carry {
    blocks: Vec<RecordBatch>,
    rows: usize,
}

impl Carry {
    pub(crate) fn push(&mut self, block: RecordBatch) {
        self.rows += block.num_rows();
        self.blocks.push(block);
    }

    /// Rows held.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Every row held, as one block (`None` when no row is held); the carry is left empty.
    pub(crate) fn take_all(&mut self) -> Result<Option<RecordBatch>> {
        let blocks = std::mem::take(&mut self.blocks);
        let rows = std::mem::take(&mut self.rows);
        if rows == 0 {
            return Ok(None);
        }
        Ok(Some(concat_batches(&blocks[0].schema(), &blocks)?))
    }

    /// The first `rows` rows held, as one block; the others stay.
    pub(crate) fn cut(&mut self, rows: usize) -> Result<RecordBatch> {
        let all = self.take_all()?.expect("cut only what is held");
        self.keep(all.slice(rows, all.num_rows() - rows));
        Ok(all.slice(0, rows))
    }

    /// Hold `rest` alone.
    pub(crate) fn keep(&mut self, rest: RecordBatch) {
        self.blocks.clear();
        self.rows = 0;
        if rest.num_rows() > 0 {
            self.push(rest);
        }
    }
}
