//! Numeric scalers, fitted on per-column statistics, and the row-wise normalizer.

use std::sync::Arc;

use arrow::array::{Array, Float64Array};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use super::{Blocks, Fitted, Preprocessor, failed, numbers, replace};
use crate::aggregate::{Aggregator, Quantile};
use crate::error::Result;

/// Per-column statistics of one pass: count, mean, M2 (Welford), min, max, max |x|, and
/// (when asked) every value, for quantiles.
struct Stats {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    max_abs: f64,
    values: Option<Vec<f64>>,
}

fn stats(blocks: Blocks, columns: &[String], who: &str, keep: bool) -> Result<Vec<Stats>> {
    let mut all: Vec<Stats> = columns
        .iter()
        .map(|_| Stats {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            max_abs: 0.0,
            values: keep.then(Vec::new),
        })
        .collect();
    for block in blocks {
        let block = block?;
        for (stats, name) in all.iter_mut().zip(columns) {
            let column = numbers(&block, name, who)?;
            for x in column.iter().flatten() {
                stats.n += 1;
                let delta = x - stats.mean;
                stats.mean += delta / stats.n as f64;
                stats.m2 += delta * (x - stats.mean);
                stats.min = stats.min.min(x);
                stats.max = stats.max.max(x);
                stats.max_abs = stats.max_abs.max(x.abs());
                if let Some(values) = &mut stats.values {
                    values.push(x);
                }
            }
        }
    }
    if let Some((stats, name)) = all.iter().zip(columns).find(|(s, _)| s.n == 0) {
        let _ = stats;
        return Err(failed(
            who.to_owned(),
            format!("column `{name}` has no values to fit on"),
        ));
    }
    Ok(all)
}

/// A zero scale would divide by zero: such columns are only shifted.
fn scale(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        1.0
    } else {
        value
    }
}

/// `(x - shift) / scale` on each of `columns`, as `f64`.
pub(super) fn affine(
    batch: RecordBatch,
    columns: &[String],
    shifts: &[f64],
    scales: &[f64],
    fitted: &Fitted,
) -> Result<RecordBatch> {
    let who = fitted.name();
    let mut batch = batch;
    for ((name, shift), divisor) in columns.iter().zip(shifts).zip(scales) {
        let values = numbers(&batch, name, &who)?;
        let divisor = scale(*divisor);
        let out: Float64Array = values.unary(|x| (x - shift) / divisor);
        let nullable = out.null_count() > 0
            || batch
                .schema()
                .field_with_name(name)
                .is_ok_and(|f| f.is_nullable());
        batch = replace(&batch, name, Arc::new(out), nullable)?;
    }
    Ok(batch)
}

columns_preprocessor!(
    /// Standardize columns: `(x - mean) / std`, with the population standard deviation.
    StandardScaler
);

impl StandardScaler {
    fn fit_columns(&self, blocks: Blocks) -> Result<Fitted> {
        let stats = stats(blocks, &self.columns, &self.describe(), false)?;
        Ok(Fitted::StandardScaler {
            columns: self.columns.clone(),
            means: stats.iter().map(|s| s.mean).collect(),
            stds: stats.iter().map(|s| (s.m2 / s.n as f64).sqrt()).collect(),
        })
    }
}

columns_preprocessor!(
    /// Scale columns to [0, 1]: `(x - min) / (max - min)`.
    MinMaxScaler
);

impl MinMaxScaler {
    fn fit_columns(&self, blocks: Blocks) -> Result<Fitted> {
        let stats = stats(blocks, &self.columns, &self.describe(), false)?;
        Ok(Fitted::MinMaxScaler {
            columns: self.columns.clone(),
            mins: stats.iter().map(|s| s.min).collect(),
            maxs: stats.iter().map(|s| s.max).collect(),
        })
    }
}

columns_preprocessor!(
    /// Scale columns to [-1, 1] by their largest absolute value.
    MaxAbsScaler
);

impl MaxAbsScaler {
    fn fit_columns(&self, blocks: Blocks) -> Result<Fitted> {
        let stats = stats(blocks, &self.columns, &self.describe(), false)?;
        Ok(Fitted::MaxAbsScaler {
            columns: self.columns.clone(),
            max_abs: stats.iter().map(|s| s.max_abs).collect(),
        })
    }
}

columns_preprocessor!(
    /// Scale columns robustly to outliers: `(x - median) / (q75 - q25)`. Fitting holds every
    /// value of the columns in memory (exact quantiles).
    RobustScaler
);

impl RobustScaler {
    fn fit_columns(&self, blocks: Blocks) -> Result<Fitted> {
        let stats = stats(blocks, &self.columns, &self.describe(), true)?;
        let quantile = |values: &[f64], q: f64| -> f64 {
            Aggregator::<f64>::finish(&Quantile { q }, values.to_vec()).unwrap_or(f64::NAN)
        };
        let mut medians = Vec::new();
        let mut spreads = Vec::new();
        for s in &stats {
            let values = s.values.as_deref().unwrap_or_default();
            medians.push(quantile(values, 0.5));
            spreads.push(quantile(values, 0.75) - quantile(values, 0.25));
        }
        Ok(Fitted::RobustScaler {
            columns: self.columns.clone(),
            medians,
            spreads,
        })
    }
}

/// The norm a [`Normalizer`] scales each row to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Norm {
    /// Euclidean.
    L2,
    /// Sum of absolute values.
    L1,
    /// Largest absolute value.
    Max,
}

columns_preprocessor!(
    /// Scale each row's values of `columns` to unit norm (nothing to fit).
    Normalizer,
    norm: Norm
);

impl Normalizer {
    fn fit_columns(&self, _: Blocks) -> Result<Fitted> {
        Ok(Fitted::Normalizer {
            columns: self.columns.clone(),
            norm: self.norm,
        })
    }
}

pub(super) fn normalize(
    batch: RecordBatch,
    columns: &[String],
    norm: Norm,
    fitted: &Fitted,
) -> Result<RecordBatch> {
    let who = fitted.name();
    let values: Vec<Float64Array> = columns
        .iter()
        .map(|c| numbers(&batch, c, &who))
        .collect::<Result<_>>()?;
    let rows = batch.num_rows();
    let norms: Vec<f64> = (0..rows)
        .map(|i| {
            let row = values
                .iter()
                .map(|v| if v.is_null(i) { 0.0 } else { v.value(i) });
            let n = match norm {
                Norm::L2 => row.map(|x| x * x).sum::<f64>().sqrt(),
                Norm::L1 => row.map(f64::abs).sum(),
                Norm::Max => row.map(f64::abs).fold(0.0, f64::max),
            };
            scale(n)
        })
        .collect();
    let mut batch = batch;
    for (name, column) in columns.iter().zip(&values) {
        let out: Float64Array = column
            .iter()
            .zip(&norms)
            .map(|(x, n)| x.map(|x| x / n))
            .collect();
        let nullable = out.null_count() > 0;
        batch = replace(&batch, name, Arc::new(out), nullable)?;
    }
    Ok(batch)
}
