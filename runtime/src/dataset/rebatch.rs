//! Cutting and joining a stream of blocks into batches of a fixed number of rows, optionally
//! sampled at random from a local shuffle buffer (training ingest).

use arrow::record_batch::RecordBatch;

use crate::carry::Carry;
use crate::error::Result;

/// Batches of exactly `size` rows (the last may be smaller) out of blocks of any size.
pub struct Rebatch<I> {
    blocks: I,
    size: usize,
    buffered: Carry,
    /// Drop a last batch smaller than `size`.
    drop_last: bool,
    /// Sample each batch at random from at least this many buffered rows.
    shuffle: Option<(usize, rand_pcg::Pcg64)>,
}

impl<I: Iterator<Item = Result<RecordBatch>>> Rebatch<I> {
    /// Rebatch `blocks` as `options` say (size, drop_last, local shuffle).
    pub fn new(blocks: I, options: &super::BatchOptions) -> Self {
        Self {
            blocks,
            size: options.batch_size.max(1),
            buffered: Carry::default(),
            drop_last: options.drop_last,
            shuffle: options.shuffle.map(|(rows, seed)| {
                (
                    rows.max(1),
                    <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(seed),
                )
            }),
        }
    }

    /// A batch of `rows` rows drawn at random from the buffer; the rest stays buffered.
    fn sample(&mut self, rows: usize) -> Result<RecordBatch> {
        let all = self.buffered.take_all()?.expect("sampling what is held");
        let (_, rng) = self.shuffle.as_mut().expect("sampling shuffles");
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        let (chosen, rest) =
            rand::seq::SliceRandom::partial_shuffle(order.as_mut_slice(), rng, rows);
        let take = |indices: &[u32]| {
            arrow::compute::take_record_batch(
                &all,
                &arrow::array::UInt32Array::from(indices.to_vec()),
            )
        };
        let out = take(chosen)?;
        self.buffered.keep(take(rest)?);
        Ok(out)
    }
}

impl<I: Iterator<Item = Result<RecordBatch>>> Iterator for Rebatch<I> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let wanted = match &self.shuffle {
            Some((buffer, _)) => (*buffer).max(self.size),
            None => self.size,
        };
        while self.buffered.rows() < wanted {
            match self.blocks.next() {
                Some(Ok(block)) => self.buffered.push(block),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        let rows = self.size.min(self.buffered.rows());
        if rows == 0 || (self.drop_last && rows < self.size) {
            return None;
        }
        Some(match self.shuffle {
            Some(_) => self.sample(rows),
            None => self.buffered.cut(rows),
        })
    }
}
