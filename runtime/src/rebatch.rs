//! Cutting and joining a stream of blocks into batches of a fixed number of rows.

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// Batches of exactly `size` rows (the last may be smaller) out of blocks of any size.
pub struct Rebatch<I> {
    blocks: I,
    schema: SchemaRef,
    size: usize,
    buffered: Vec<RecordBatch>,
    buffered_rows: usize,
}

impl<I: Iterator<Item = Result<RecordBatch>>> Rebatch<I> {
    /// Rebatch `blocks` into batches of `size` rows.
    pub fn new(blocks: I, schema: SchemaRef, size: usize) -> Self {
        Self {
            blocks,
            schema,
            size: size.max(1),
            buffered: Vec::new(),
            buffered_rows: 0,
        }
    }

    fn cut(&mut self, rows: usize) -> Result<RecordBatch> {
        let all = concat_batches(&self.schema, &self.buffered)?;
        let out = all.slice(0, rows);
        let rest = all.slice(rows, all.num_rows() - rows);
        self.buffered_rows = rest.num_rows();
        self.buffered = if rest.num_rows() > 0 {
            vec![rest]
        } else {
            Vec::new()
        };
        Ok(out)
    }
}

impl<I: Iterator<Item = Result<RecordBatch>>> Iterator for Rebatch<I> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buffered_rows < self.size {
            match self.blocks.next() {
                Some(Ok(block)) => {
                    self.buffered_rows += block.num_rows();
                    self.buffered.push(block);
                }
                Some(Err(e)) => return Some(Err(e)),
                None if self.buffered_rows == 0 => return None,
                None => {
                    let rows = self.buffered_rows;
                    return Some(self.cut(rows));
                }
            }
        }
        Some(self.cut(self.size))
    }
}
