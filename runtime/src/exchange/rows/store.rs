//! The chunks an exchange buffers: its input in split order, in memory or spilled together past
//! the limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::exchange::spill::{LazySpill, SpillFile};
use crate::sync::Recover;

/// A buffered piece of the input: blocks, in memory or spilled.
pub(crate) struct Chunk {
    /// (split, sequence within the split): the input order.
    pub(super) tag: (usize, usize),
    pub(super) rows: usize,
    pub(super) data: ChunkData,
}

pub(super) enum ChunkData {
    Memory(Vec<RecordBatch>, usize),
    /// Blocks `range` of a spill file.
    Spilled(Arc<SpillFile>, std::ops::Range<usize>),
}

impl Chunk {
    /// Rows in the chunk.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes the chunk holds in memory (none once spilled).
    pub(super) fn bytes(&self) -> usize {
        match &self.data {
            ChunkData::Memory(_, bytes) => *bytes,
            ChunkData::Spilled(..) => 0,
        }
    }

    /// The chunk's blocks, read one at a time.
    pub(super) fn blocks(&self) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + '_>> {
        Ok(match &self.data {
            ChunkData::Memory(blocks, _) => Box::new(blocks.iter().cloned().map(Ok)),
            ChunkData::Spilled(file, range) => Box::new(file.blocks(range.clone())?),
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
    pub(super) fn add(&self, tag: (usize, usize), blocks: Vec<RecordBatch>) -> Result<()> {
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
