//! Datasets from datasets: `union`, and the materializing `split` and `train_test_split`.

use std::sync::Arc;

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::record::Record;
use crate::source::MemorySource;
use crate::union::UnionSource;

use super::Dataset;

impl<R: Record> Dataset<R> {
    /// The rows of this dataset, then those of `others`, read lazily (nothing runs until the
    /// result is consumed). With several threads blocks interleave unless order is preserved.
    pub fn union(&self, others: &[&Dataset<R>]) -> Dataset<R> {
        let mut inputs = vec![self.plan.clone()];
        inputs.extend(others.iter().map(|d| d.plan.clone()));
        let names: Vec<String> = inputs.iter().map(|p| p.source.describe()).collect();
        self.with_plan(Plan {
            source: Arc::new(UnionSource::new(inputs)),
            stages: Vec::new(),
            schema: self.plan.schema.clone(),
            logical: format!("union of {}", names.join(", ")),
            physical: String::new(),
        })
    }

    /// Run the pipeline and cut its rows, in order, into `n` datasets of nearly equal size
    /// (their sizes differ by at most one row), each held in memory.
    pub fn split(&self, n: usize) -> Result<Vec<Dataset<R>>> {
        if n == 0 {
            return Err(Error::Exchange {
                stage: "split(0)".into(),
                reason: "cannot split into zero datasets".into(),
            });
        }
        let all = self.ordered_rows()?;
        let total = all.num_rows();
        Ok((0..n)
            .map(|i| {
                let (start, end) = (total * i / n, total * (i + 1) / n);
                self.in_memory(all.slice(start, end - start), &format!("split {i} of {n}"))
            })
            .collect())
    }

    /// Run the pipeline and split its rows into (train, test), the test part holding
    /// `test_fraction` of the rows (rounded up). With a seed the rows are shuffled first
    /// (the same seed gives the same split); without one the order is kept.
    pub fn train_test_split(
        &self,
        test_fraction: f64,
        seed: Option<u64>,
    ) -> Result<(Dataset<R>, Dataset<R>)> {
        if !(0.0..=1.0).contains(&test_fraction) {
            return Err(Error::Exchange {
                stage: format!("train_test_split({test_fraction})"),
                reason: "the test fraction must be between 0 and 1".into(),
            });
        }
        let mut all = self.ordered_rows()?;
        if let Some(seed) = seed {
            let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
            let mut rng = <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(seed);
            rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rng);
            all = arrow::compute::take_record_batch(&all, &arrow::array::UInt32Array::from(order))?;
        }
        let total = all.num_rows();
        let test = ((total as f64) * test_fraction).ceil() as usize;
        let train = total - test;
        Ok((
            self.in_memory(all.slice(0, train), "train"),
            self.in_memory(all.slice(train, test), "test"),
        ))
    }

    /// Every row, in order, as one batch.
    fn ordered_rows(&self) -> Result<RecordBatch> {
        let blocks = self.clone().with_preserve_order(true).to_arrow()?;
        Ok(concat_batches(&self.plan.schema, &blocks)?)
    }

    fn in_memory(&self, rows: RecordBatch, label: &str) -> Dataset<R> {
        // Blocks of 8192 rows, as other in-memory sources make them.
        let blocks: Vec<RecordBatch> = (0..rows.num_rows())
            .step_by(8192)
            .map(|start| rows.slice(start, 8192.min(rows.num_rows() - start)))
            .collect();
        self.with_plan(Plan {
            source: Arc::new(MemorySource::new("materialized", blocks)),
            stages: Vec::new(),
            schema: self.plan.schema.clone(),
            logical: format!("{label}\n  of:\n{}", super::indent(&self.plan.logical)),
            physical: String::new(),
        })
    }
}
