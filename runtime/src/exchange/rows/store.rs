//! The chunks an exchange buffers: its input in split order, in memory or spilled together past
//! the limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use arrow::row::OwnedRow;

use crate::error::Result;
use crate::exchange::spill::{LazySpill, SpillFile};
use crate::sync::Recover;

/// A buffered piece of the input: blocks, in memory or spilled.
pub(crate) struct Chunk {
    /// (split, sequence within the split): the input order.
    pub(super) tag: (usize, usize),
    pub(super) rows: usize,
    pub(super) data: ChunkData,
    /// A sorted run's keys, block by block.
    pub(super) keys: Option<RunKeys>,
}

pub(super) enum ChunkData {
    Memory(Vec<RecordBatch>, usize),
    /// Blocks `range` of a spill file.
    Spilled(Arc<SpillFile>, std::ops::Range<usize>),
}

/// A sorted run's keys, in the merge's row format, per block: its first row's — where the
/// block starts, in memory or spilled, so a merge of a range of keys starts at the right block
/// without reading the ones before — and a row's drawn from it, a sample of the run's keys
/// (first rows alone undersample each block's upper half: with runs of a few blocks, ranges
/// cut from them came out several times larger than others).
pub(crate) struct RunKeys {
    pub(super) firsts: Vec<OwnedRow>,
    /// One row drawn from each block: an even sample of the run's keys.
    pub(super) samples: Vec<OwnedRow>,
}

impl Chunk {
    /// Rows in the chunk.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The chunk's blocks, read one at a time.
    pub(super) fn blocks(&self) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + '_>> {
        self.blocks_from(0)
    }

    /// The chunk's blocks from block `first` on, read one at a time.
    pub(super) fn blocks_from(
        &self,
        first: usize,
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + '_>> {
        Ok(match &self.data {
            ChunkData::Memory(blocks, _) => {
                Box::new(blocks[first.min(blocks.len())..].iter().cloned().map(Ok))
            }
            ChunkData::Spilled(file, range) => {
                let start = (range.start + first).min(range.end);
                Box::new(file.blocks(start..range.end)?)
            }
        })
    }
}

/// Chunks of every split, spilled together when over the limit.
pub(super) struct Store {
    pub(super) chunks: Mutex<Vec<Chunk>>,
    pub(super) bytes: AtomicUsize,
    pub(super) limit: usize,
    pub(super) spill: LazySpill,
}

impl Store {
    pub(super) fn add(
        &self,
        tag: (usize, usize),
        blocks: Vec<RecordBatch>,
        keys: Option<RunKeys>,
    ) -> Result<()> {
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
            keys,
        });
        if self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes > self.limit {
            self.spill_all(&mut chunks)?;
        }
        Ok(())
    }

    /// Write every chunk held in memory to one file.
    pub(super) fn spill_all(&self, chunks: &mut [Chunk]) -> Result<()> {
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
