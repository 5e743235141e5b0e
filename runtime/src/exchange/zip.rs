//! `zip`: the columns of two pipelines side by side, row by row. Both are run to the end in
//! order (buffered, spilled past the budget), then read back in aligned ranges.

use std::sync::{Arc, Mutex};

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::rows::{Piece, Ranges, buffer, cut};
use crate::error::{Error, Result};
use crate::options::ExecOptions;
use crate::plan::Plan;
use crate::source::{Source, Split};
use crate::stats::RunStats;
use crate::sync::Recover;

/// Rows per output split.
const RANGE_ROWS: usize = 65_536;

/// The rows of `left` with the columns of `right` added.
pub struct ZipSource {
    left: Arc<Plan>,
    right: Arc<Plan>,
    schema: SchemaRef,
    name: String,
    upstream: Mutex<Option<RunStats>>,
}

impl ZipSource {
    /// `left` zipped with `right` into rows of `schema` (left's columns, then right's).
    pub fn new(name: impl Into<String>, left: Plan, right: Arc<Plan>, schema: SchemaRef) -> Self {
        Self {
            left: Arc::new(left),
            right,
            schema,
            name: name.into(),
            upstream: Mutex::default(),
        }
    }
}

impl Source for ZipSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn upstream(&self) -> Option<crate::source::Upstream<'_>> {
        Some(crate::source::Upstream {
            plan: &self.left,
            stats: self.upstream.lock().recover().clone(),
        })
    }

    fn splits(&self, options: &ExecOptions) -> Result<Vec<Box<dyn Split>>> {
        let left = buffer(&self.name, &self.left, options, None, None, &self.upstream)?;
        let ignored = Mutex::default();
        let right = buffer(&self.name, &self.right, options, None, None, &ignored)?;
        let rows = |chunks: &[super::rows::Chunk]| chunks.iter().map(|c| c.rows()).sum::<usize>();
        let (left_rows, right_rows) = (rows(&left), rows(&right));
        if left_rows != right_rows {
            return Err(Error::Exchange {
                stage: self.name.clone(),
                reason: format!(
                    "the datasets differ in length: {left_rows} rows and {right_rows} rows"
                )
                .into(),
            });
        }
        let bounds: Vec<usize> = (0..left_rows)
            .step_by(RANGE_ROWS)
            .chain(std::iter::once(left_rows))
            .collect();
        let lefts = cut(left, &bounds);
        let rights = cut(right, &bounds);
        Ok(lefts
            .into_iter()
            .zip(rights)
            .enumerate()
            .map(|(i, (left, right))| {
                Box::new(ZipSplit {
                    name: format!("{}[{i}]", self.name).into(),
                    left,
                    right,
                    schema: self.schema.clone(),
                }) as Box<dyn Split>
            })
            .collect())
    }
}

/// One aligned range of both sides.
struct ZipSplit {
    name: Arc<str>,
    left: Vec<Piece>,
    right: Vec<Piece>,
    schema: SchemaRef,
}

impl ZipSplit {
    fn side(&self, pieces: &[Piece]) -> Result<Option<RecordBatch>> {
        let ranges = Ranges {
            name: self.name.clone(),
            pieces: std::sync::Mutex::new(pieces.to_vec()),
        };
        let mut blocks = Vec::new();
        ranges.read(&mut |b| {
            blocks.push(b);
            Ok(true)
        })?;
        match blocks.first() {
            None => Ok(None),
            Some(first) => Ok(Some(concat_batches(&first.schema(), &blocks)?)),
        }
    }
}

impl Split for ZipSplit {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let (Some(left), Some(right)) = (self.side(&self.left)?, self.side(&self.right)?) else {
            return Ok(());
        };
        let mut columns = left.columns().to_vec();
        columns.extend(right.columns().iter().cloned());
        emit(RecordBatch::try_new(self.schema.clone(), columns)?)?;
        Ok(())
    }
}
