//! Outputs that regroup chunks without sorting: repartition, randomize_block_order, and zip's
//! aligned pieces.

use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;

use super::store::Chunk;
use crate::error::Result;
use crate::source::Split;
use crate::sync::Recover;

/// `n` splits over the chunks (in input order) with nearly equal rows.
pub(super) fn repartition(name: &Arc<str>, chunks: Vec<Chunk>, n: usize) -> Vec<Box<dyn Split>> {
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
pub(crate) fn cut(chunks: Vec<Chunk>, bounds: &[usize]) -> Vec<Vec<Piece>> {
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
pub(crate) type Piece = (Arc<Chunk>, std::ops::Range<usize>);

/// Row ranges of buffered chunks, released (with their spill files) once read.
pub(crate) struct Ranges {
    pub(crate) name: Arc<str>,
    pub(crate) pieces: Mutex<Vec<Piece>>,
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
