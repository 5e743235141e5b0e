//! Categorical encoders, the concatenator and the imputer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float32Builder, Float64Array, Int64Array, ListBuilder, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::{Blocks, Fitted, Preprocessor, failed, numbers, replace};
use crate::error::Result;

/// Column `name` as strings (numbers in their decimal form).
fn strings(batch: &RecordBatch, name: &str, who: &str) -> Result<StringArray> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| failed(who.to_owned(), format!("no column `{name}`")))?;
    let cast = arrow::compute::cast(column, &DataType::Utf8).map_err(|e| {
        failed(
            who.to_owned(),
            format!(
                "column `{name}` ({}) cannot be a category: {e}",
                column.data_type()
            ),
        )
    })?;
    Ok(cast.as_string::<i32>().clone())
}

/// The sorted distinct values of each column.
fn categories(blocks: Blocks, columns: &[String], who: &str) -> Result<Vec<Vec<String>>> {
    let mut seen: Vec<BTreeSet<String>> = columns.iter().map(|_| BTreeSet::new()).collect();
    for block in blocks {
        let block = block?;
        for (set, name) in seen.iter_mut().zip(columns) {
            for value in strings(&block, name, who)?.iter().flatten() {
                if !set.contains(value) {
                    set.insert(value.to_owned());
                }
            }
        }
    }
    Ok(seen.into_iter().map(|s| s.into_iter().collect()).collect())
}

fn index_of(categories: &[String]) -> HashMap<&str, usize> {
    categories
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect()
}

columns_preprocessor!(
    /// Replace each categorical column by a list of 0/1 (`Vec<f32>`), one per category seen
    /// when fitting (sorted); unknown values and nulls are all zeros.
    OneHotEncoder
);
columns_preprocessor!(
    /// Replace each categorical column by its category's index (`Option<i64>`, categories
    /// sorted); unknown values and nulls are null.
    OrdinalEncoder
);

impl OneHotEncoder {
    fn fit_columns(&self, blocks: Blocks) -> Result<Fitted> {
        Ok(Fitted::OneHotEncoder {
            columns: self.columns.clone(),
            categories: categories(blocks, &self.columns, &self.describe())?,
        })
    }
}

impl OrdinalEncoder {
    fn fit_columns(&self, blocks: Blocks) -> Result<Fitted> {
        Ok(Fitted::OrdinalEncoder {
            columns: self.columns.clone(),
            categories: categories(blocks, &self.columns, &self.describe())?,
        })
    }
}

/// Replace the label column by its class's index (`Option<i64>`, classes sorted).
pub struct LabelEncoder {
    column: String,
}

impl LabelEncoder {
    pub fn new(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
        }
    }
}

impl Preprocessor for LabelEncoder {
    fn describe(&self) -> String {
        format!("LabelEncoder({})", self.column)
    }
    fn fit_blocks(&self, blocks: Blocks) -> Result<Fitted> {
        let mut classes = categories(blocks, std::slice::from_ref(&self.column), &self.describe())?;
        Ok(Fitted::LabelEncoder {
            column: self.column.clone(),
            classes: classes.remove(0),
        })
    }
}

pub(super) fn one_hot(
    batch: RecordBatch,
    columns: &[String],
    categories: &[Vec<String>],
    fitted: &Fitted,
) -> Result<RecordBatch> {
    let who = fitted.name();
    let mut batch = batch;
    for (name, categories) in columns.iter().zip(categories) {
        let index = index_of(categories);
        let values = strings(&batch, name, &who)?;
        let mut builder = ListBuilder::with_capacity(
            Float32Builder::with_capacity(values.len() * categories.len()),
            values.len(),
        )
        .with_field(Arc::new(Field::new("item", DataType::Float32, false)));
        for value in values.iter() {
            let hot = value.and_then(|v| index.get(v).copied());
            for i in 0..categories.len() {
                builder
                    .values()
                    .append_value(if Some(i) == hot { 1.0 } else { 0.0 });
            }
            builder.append(true);
        }
        batch = replace(&batch, name, Arc::new(builder.finish()), false)?;
    }
    Ok(batch)
}

pub(super) fn ordinal(
    batch: RecordBatch,
    columns: &[String],
    categories: &[Vec<String>],
    fitted: &Fitted,
) -> Result<RecordBatch> {
    let who = fitted.name();
    let mut batch = batch;
    for (name, categories) in columns.iter().zip(categories) {
        let index = index_of(categories);
        let values = strings(&batch, name, &who)?;
        let codes: Int64Array = values
            .iter()
            .map(|v| v.and_then(|v| index.get(v)).map(|&i| i as i64))
            .collect();
        batch = replace(&batch, name, Arc::new(codes), true)?;
    }
    Ok(batch)
}

/// Combine numeric columns into one list column (`Vec<f32>`) named `output` (default
/// `concat_out`, as Ray's), dropping them (nothing to fit).
pub struct Concatenator {
    columns: Vec<String>,
    output: String,
}

impl Concatenator {
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
            output: "concat_out".into(),
        }
    }

    /// Name the output column.
    pub fn output(mut self, name: impl Into<String>) -> Self {
        self.output = name.into();
        self
    }
}

impl Preprocessor for Concatenator {
    fn describe(&self) -> String {
        super::describe("Concatenator", &self.columns)
    }
    fn fit_blocks(&self, _: Blocks) -> Result<Fitted> {
        Ok(Fitted::Concatenator {
            columns: self.columns.clone(),
            output: self.output.clone(),
        })
    }
}

pub(super) fn concatenate(
    batch: RecordBatch,
    columns: &[String],
    output: &str,
    fitted: &Fitted,
) -> Result<RecordBatch> {
    let who = fitted.name();
    let values: Vec<Float64Array> = columns
        .iter()
        .map(|c| numbers(&batch, c, &who))
        .collect::<Result<_>>()?;
    let mut builder = ListBuilder::with_capacity(
        Float32Builder::with_capacity(batch.num_rows() * columns.len()),
        batch.num_rows(),
    )
    .with_field(Arc::new(Field::new("item", DataType::Float32, false)));
    for i in 0..batch.num_rows() {
        for column in &values {
            builder.values().append_value(if column.is_null(i) {
                0.0
            } else {
                column.value(i) as f32
            });
        }
        builder.append(true);
    }
    let schema = batch.schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !columns.contains(schema.field(i).name()))
        .collect();
    let kept = batch.project(&keep)?;
    let mut fields: Vec<Arc<Field>> = kept.schema().fields().iter().cloned().collect();
    let mut arrays: Vec<ArrayRef> = kept.columns().to_vec();
    let list = builder.finish();
    fields.push(Arc::new(Field::new(
        output,
        list.data_type().clone(),
        false,
    )));
    arrays.push(Arc::new(list));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// How a [`SimpleImputer`] fills nulls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// The column's mean.
    Mean,
    /// The column's most frequent value (the smallest, on ties).
    MostFrequent,
    /// A constant.
    Constant(f64),
}

columns_preprocessor!(
    /// Fill the nulls of numeric columns (they become non-null `f64`).
    SimpleImputer,
    strategy: Strategy
);

impl SimpleImputer {
    fn fit_columns(&self, blocks: Blocks) -> Result<Fitted> {
        let who = self.describe();
        let mut sums = vec![(0.0f64, 0u64); self.columns.len()];
        let mut counts: Vec<BTreeMap<u64, u64>> = vec![BTreeMap::new(); self.columns.len()];
        if !matches!(self.strategy, Strategy::Constant(_)) {
            for block in blocks {
                let block = block?;
                for (i, name) in self.columns.iter().enumerate() {
                    for x in numbers(&block, name, &who)?.iter().flatten() {
                        sums[i].0 += x;
                        sums[i].1 += 1;
                        // Ordered by the value's bits, so equal values meet.
                        *counts[i].entry(x.to_bits()).or_default() += 1;
                    }
                }
            }
        }
        let fills = (0..self.columns.len())
            .map(|i| match self.strategy {
                Strategy::Constant(value) => Ok(value),
                _ if sums[i].1 == 0 => Err(failed(
                    who.clone(),
                    format!("column `{}` has no values to fit on", self.columns[i]),
                )),
                Strategy::Mean => Ok(sums[i].0 / sums[i].1 as f64),
                Strategy::MostFrequent => Ok(counts[i]
                    .iter()
                    .map(|(bits, n)| (f64::from_bits(*bits), *n))
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.total_cmp(&a.0)))
                    .map(|(value, _)| value)
                    .unwrap_or_default()),
            })
            .collect::<Result<_>>()?;
        Ok(Fitted::SimpleImputer {
            columns: self.columns.clone(),
            fills,
        })
    }
}

pub(super) fn impute(
    batch: RecordBatch,
    columns: &[String],
    fills: &[f64],
    fitted: &Fitted,
) -> Result<RecordBatch> {
    let who = fitted.name();
    let mut batch = batch;
    for (name, fill) in columns.iter().zip(fills) {
        let values = numbers(&batch, name, &who)?;
        let filled: Float64Array = values.iter().map(|x| Some(x.unwrap_or(*fill))).collect();
        batch = replace(&batch, name, Arc::new(filled), false)?;
    }
    Ok(batch)
}
