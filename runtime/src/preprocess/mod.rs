//! Preprocessors with fit / transform, as Ray Data's: scalers (`scalers.rs`), encoders and
//! column combinators (`encoders.rs`), and [`Chain`].
//!
//! A preprocessor is configured (`StandardScaler::new(["price"])`), fitted on a dataset in one
//! pass (`fit(&dataset)`), and only the [`Fitted`] result can transform: applying a transform
//! before fitting does not compile. A fitted preprocessor transforms blocks inside a pipeline
//! (`map_batches::<Scaled>(fitted.transform_fn())`), and saves to and loads from JSON.
//! Columns are named at run time; a missing or mistyped column is an error naming it.

/// A preprocessor configured by the columns it works on (and one setting, for some).
macro_rules! columns_preprocessor {
    ($(#[$doc:meta])* $name:ident $(, $setting:ident: $ty:ty)?) => {
        $(#[$doc])*
        pub struct $name {
            columns: Vec<String>,
            $($setting: $ty,)?
        }

        impl $name {
            pub fn new<S: Into<String>>(
                columns: impl IntoIterator<Item = S>,
                $($setting: $ty,)?
            ) -> Self {
                Self {
                    columns: columns.into_iter().map(Into::into).collect(),
                    $($setting,)?
                }
            }
        }

        // Each type fits in its own `fit_columns`; the name and the trait come from here.
        impl $crate::preprocess::Preprocessor for $name {
            fn describe(&self) -> String {
                super::describe(stringify!($name), &self.columns)
            }
            fn fit_blocks(
                &self,
                blocks: $crate::preprocess::Blocks,
            ) -> $crate::Result<$crate::preprocess::Fitted> {
                self.fit_columns(blocks)
            }
        }
    };
}

/// `Kind(a, b)`.
pub(crate) fn describe(kind: &str, columns: &[String]) -> String {
    format!("{kind}({})", columns.join(", "))
}

mod encoders;
mod scalers;

pub use encoders::{
    Concatenator, LabelEncoder, OneHotEncoder, OrdinalEncoder, SimpleImputer, Strategy,
};
pub use scalers::{MaxAbsScaler, MinMaxScaler, Norm, Normalizer, RobustScaler, StandardScaler};

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::record::Record;

/// Blocks to fit on.
pub type Blocks<'a> = &'a mut dyn Iterator<Item = Result<RecordBatch>>;

/// A configured preprocessor, not fitted yet.
pub trait Preprocessor: Send + Sync {
    /// Its name in messages: `StandardScaler(price, qty)`.
    fn describe(&self) -> String;
    /// Fit on `blocks` (one pass).
    fn fit_blocks(&self, blocks: Blocks) -> Result<Fitted>;
    /// Fit on a dataset: one pass over it.
    fn fit<R: Record>(&self, dataset: &Dataset<R>) -> Result<Fitted>
    where
        Self: Sized,
    {
        self.fit_blocks(&mut dataset.iter_blocks()?)
    }
}

/// A fitted preprocessor: its state, and the transform it defines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Fitted {
    /// `(x - mean) / std` per column (population std; 1 where it is 0).
    StandardScaler {
        columns: Vec<String>,
        means: Vec<f64>,
        stds: Vec<f64>,
    },
    /// `(x - min) / (max - min)` per column (1 where the range is 0).
    MinMaxScaler {
        columns: Vec<String>,
        mins: Vec<f64>,
        maxs: Vec<f64>,
    },
    /// `x / max |x|` per column (1 where it is 0).
    MaxAbsScaler {
        columns: Vec<String>,
        max_abs: Vec<f64>,
    },
    /// `(x - median) / (q75 - q25)` per column (1 where the spread is 0).
    RobustScaler {
        columns: Vec<String>,
        medians: Vec<f64>,
        spreads: Vec<f64>,
    },
    /// Each row's values of `columns` scaled to unit norm.
    Normalizer { columns: Vec<String>, norm: Norm },
    /// Each column replaced by a list of 0/1 per category (all 0 for unknown and null).
    OneHotEncoder {
        columns: Vec<String>,
        categories: Vec<Vec<String>>,
    },
    /// Each column replaced by its category's index (null for unknown and null).
    OrdinalEncoder {
        columns: Vec<String>,
        categories: Vec<Vec<String>>,
    },
    /// The label column replaced by its class's index (null for unknown and null).
    LabelEncoder {
        column: String,
        classes: Vec<String>,
    },
    /// `columns` replaced by one list column `output` of their values as `f32`.
    Concatenator {
        columns: Vec<String>,
        output: String,
    },
    /// Nulls of each column replaced by its fill value.
    SimpleImputer {
        columns: Vec<String>,
        fills: Vec<f64>,
    },
    /// Several, applied in order.
    Chain(Vec<Fitted>),
}

impl Fitted {
    /// Transform one block.
    pub fn transform(&self, batch: RecordBatch) -> Result<RecordBatch> {
        match self {
            Fitted::StandardScaler {
                columns,
                means,
                stds,
            } => scalers::affine(batch, columns, means, stds, self),
            Fitted::MinMaxScaler {
                columns,
                mins,
                maxs,
            } => {
                let ranges: Vec<f64> = mins.iter().zip(maxs).map(|(a, b)| b - a).collect();
                scalers::affine(batch, columns, mins, &ranges, self)
            }
            Fitted::MaxAbsScaler { columns, max_abs } => {
                scalers::affine(batch, columns, &vec![0.0; columns.len()], max_abs, self)
            }
            Fitted::RobustScaler {
                columns,
                medians,
                spreads,
            } => scalers::affine(batch, columns, medians, spreads, self),
            Fitted::Normalizer { columns, norm } => scalers::normalize(batch, columns, *norm, self),
            Fitted::OneHotEncoder {
                columns,
                categories,
            } => encoders::one_hot(batch, columns, categories, self),
            Fitted::OrdinalEncoder {
                columns,
                categories,
            } => encoders::ordinal(batch, columns, categories, self),
            Fitted::LabelEncoder { column, classes } => encoders::ordinal(
                batch,
                std::slice::from_ref(column),
                std::slice::from_ref(classes),
                self,
            ),
            Fitted::Concatenator { columns, output } => {
                encoders::concatenate(batch, columns, output, self)
            }
            Fitted::SimpleImputer { columns, fills } => {
                encoders::impute(batch, columns, fills, self)
            }
            Fitted::Chain(steps) => steps.iter().try_fold(batch, |b, step| step.transform(b)),
        }
    }

    /// The transform as a `map_batches` function.
    pub fn transform_fn(
        &self,
    ) -> impl Fn(RecordBatch) -> Result<RecordBatch> + Clone + Send + Sync + 'static {
        let fitted = Arc::new(self.clone());
        move |batch| fitted.transform(batch)
    }

    /// The transform of a whole dataset's blocks (for `Chain`'s fitting).
    fn transform_blocks<'a>(
        &'a self,
        blocks: impl Iterator<Item = Result<RecordBatch>> + 'a,
    ) -> impl Iterator<Item = Result<RecordBatch>> + 'a {
        blocks.map(move |b| b.and_then(|b| self.transform(b)))
    }

    /// Save the fitted state as JSON.
    pub fn save(&self, path: &str) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("fitted state serializes");
        std::fs::write(path, text).map_err(|e| Error::Write {
            url: path.to_owned(),
            reason: e.into(),
        })
    }

    /// Load a fitted state saved by [`Fitted::save`].
    pub fn load(path: &str) -> Result<Fitted> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            url: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            url: path.to_owned(),
            reason: crate::error::Cause::from(e).context("not a fitted preprocessor"),
        })
    }

    fn name(&self) -> String {
        let (kind, columns): (&str, Vec<&str>) = match self {
            Fitted::StandardScaler { columns, .. } => ("StandardScaler", names(columns)),
            Fitted::MinMaxScaler { columns, .. } => ("MinMaxScaler", names(columns)),
            Fitted::MaxAbsScaler { columns, .. } => ("MaxAbsScaler", names(columns)),
            Fitted::RobustScaler { columns, .. } => ("RobustScaler", names(columns)),
            Fitted::Normalizer { columns, .. } => ("Normalizer", names(columns)),
            Fitted::OneHotEncoder { columns, .. } => ("OneHotEncoder", names(columns)),
            Fitted::OrdinalEncoder { columns, .. } => ("OrdinalEncoder", names(columns)),
            Fitted::LabelEncoder { column, .. } => ("LabelEncoder", vec![column.as_str()]),
            Fitted::Concatenator { columns, .. } => ("Concatenator", names(columns)),
            Fitted::SimpleImputer { columns, .. } => ("SimpleImputer", names(columns)),
            Fitted::Chain(_) => ("Chain", Vec::new()),
        };
        format!("{kind}({})", columns.join(", "))
    }
}

fn names(columns: &[String]) -> Vec<&str> {
    columns.iter().map(String::as_str).collect()
}

/// Several preprocessors: each is fitted on the output of those before it (one pass each).
pub struct Chain {
    steps: Vec<Box<dyn Preprocessor>>,
}

impl Chain {
    /// The steps, applied in order.
    pub fn new(steps: Vec<Box<dyn Preprocessor>>) -> Self {
        Self { steps }
    }
}

impl Preprocessor for Chain {
    fn describe(&self) -> String {
        let steps: Vec<String> = self.steps.iter().map(|s| s.describe()).collect();
        format!("Chain({})", steps.join(", "))
    }

    /// A chain inside a chain holds its input blocks in memory to make its passes.
    fn fit_blocks(&self, blocks: Blocks) -> Result<Fitted> {
        let blocks: Vec<RecordBatch> = blocks.collect::<Result<_>>()?;
        let mut fitted = Vec::new();
        for step in &self.steps {
            let prefix = Fitted::Chain(fitted.clone());
            let mut input = prefix.transform_blocks(blocks.iter().cloned().map(Ok));
            fitted.push(step.fit_blocks(&mut input)?);
        }
        Ok(Fitted::Chain(fitted))
    }

    fn fit<R: Record>(&self, dataset: &Dataset<R>) -> Result<Fitted> {
        let mut fitted = Vec::new();
        for step in &self.steps {
            let prefix = Fitted::Chain(fitted.clone());
            let mut input = prefix.transform_blocks(dataset.iter_blocks()?);
            fitted.push(step.fit_blocks(&mut input)?);
        }
        Ok(Fitted::Chain(fitted))
    }
}

/// An error of preprocessor `name`.
pub(crate) fn failed(name: String, reason: impl Into<crate::error::Cause>) -> Error {
    Error::Exchange {
        stage: name,
        reason: reason.into(),
    }
}

/// Column `name` of `batch` as `f64` values (nulls kept), or an error naming it.
pub(crate) fn numbers(batch: &RecordBatch, name: &str, who: &str) -> Result<Float64Array> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| failed(who.to_owned(), format!("no column `{name}`")))?;
    if !column.data_type().is_numeric() {
        return Err(failed(
            who.to_owned(),
            format!("column `{name}` is {}, not numeric", column.data_type()),
        ));
    }
    let cast = arrow::compute::cast(column, &DataType::Float64)?;
    Ok(cast.as_primitive::<Float64Type>().clone())
}

/// `batch` with column `name` replaced by `array` (or added at the end when absent).
pub(crate) fn replace(
    batch: &RecordBatch,
    name: &str,
    array: ArrayRef,
    nullable: bool,
) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    let mut columns = batch.columns().to_vec();
    let field = Arc::new(Field::new(name, array.data_type().clone(), nullable));
    match schema.index_of(name) {
        Ok(i) => {
            fields[i] = field;
            columns[i] = array;
        }
        Err(_) => {
            fields.push(field);
            columns.push(array);
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
