//! Hive-partitioned datasets read back: a declared column that names a `column=value/`
//! directory above a file is taken from the path (typed as the record declares it), not from
//! the file, and files whose partition values a pushed filter rules out are not read at all.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, UInt32Array};
use arrow::compute::{CastOptions, cast_with_options, take};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::file::FileConfig;
use super::predicate::{CmpOp, Predicate, Scalar};
use crate::error::{Error, Result};
use crate::storage::hive::{partition, partition_values};

/// The partition columns of one file: their values, and the declared schema they complete.
pub(super) struct Partitioned {
    declared: SchemaRef,
    /// (index in the declared schema, the value as a one-row array of its declared type).
    values: Vec<(usize, ArrayRef)>,
}

impl Partitioned {
    /// `batch` (the columns read from the file) with the partition columns put in, in the
    /// declared order.
    pub(super) fn fill(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let zeros = UInt32Array::from(vec![0; batch.num_rows()]);
        let columns = self
            .declared
            .fields()
            .iter()
            .enumerate()
            .map(
                |(i, field)| match self.values.iter().find(|(at, _)| *at == i) {
                    Some((_, value)) => Ok(take(value, &zeros, None)?),
                    None => batch.column_by_name(field.name()).cloned().ok_or_else(|| {
                        arrow::error::ArrowError::SchemaError(field.name().clone()).into()
                    }),
                },
            )
            .collect::<Result<Vec<_>>>()?;
        let options =
            arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            self.declared.clone(),
            columns,
            &options,
        )?)
    }
}

/// What a file's splits read: the config (without the partition columns when the file's
/// path holds some) and how to put them back; `None` when a pushed filter rules the file out.
pub(super) struct Planner<'a> {
    config: &'a Arc<FileConfig>,
    /// Configs without the partition columns, by the declared columns they leave out.
    reduced: HashMap<Vec<usize>, Arc<FileConfig>>,
}

type Planned = Option<(Arc<FileConfig>, Option<Arc<Partitioned>>)>;

impl<'a> Planner<'a> {
    pub(super) fn new(config: &'a Arc<FileConfig>) -> Self {
        Planner {
            config,
            reduced: HashMap::new(),
        }
    }

    /// The plan of the file at `url`, `relative` to the location read.
    pub(super) fn plan(&mut self, url: &str, relative: &str) -> Result<Planned> {
        let schema = &self.config.schema;
        let found: Vec<(usize, Option<String>)> = partition_values(relative)
            .into_iter()
            .filter_map(|(column, value)| Some((schema.index_of(&column).ok()?, value)))
            .collect();
        if found.is_empty() {
            return Ok(Some((self.config.clone(), None)));
        }
        let mut values = Vec::with_capacity(found.len());
        for (at, value) in &found {
            let field = schema.field(*at);
            let ruled_out = self
                .config
                .predicates
                .iter()
                .any(|p| &p.column == field.name() && !admits(p, value.as_deref()));
            if ruled_out {
                return Ok(None);
            }
            values.push((
                *at,
                typed(field, value.as_deref(), url, self.config.record)?,
            ));
        }
        let left_out: Vec<usize> = found.iter().map(|(at, _)| *at).collect();
        let config = self.config.clone();
        let reduced = self.reduced.entry(left_out.clone()).or_insert_with(|| {
            let fields: Vec<_> = (0..schema.fields().len())
                .filter(|i| !left_out.contains(i))
                .map(|i| schema.field(i).clone())
                .collect();
            Arc::new(FileConfig {
                schema: Arc::new(Schema::new(fields)),
                format: config.format.clone(),
                record: config.record,
                include_paths: config.include_paths,
                predicates: config.predicates.clone(),
            })
        });
        let partitioned = Partitioned {
            declared: schema.clone(),
            values,
        };
        Ok(Some((reduced.clone(), Some(Arc::new(partitioned)))))
    }
}

/// The partition value as a one-row array of the declared type, or an error naming the file
/// and the column.
fn typed(
    field: &arrow::datatypes::Field,
    value: Option<&str>,
    url: &str,
    record: &str,
) -> Result<ArrayRef> {
    let mismatch = |reason: String| Error::SchemaMismatch {
        url: url.to_owned(),
        record: record.to_owned(),
        reason,
    };
    if value.is_none() && !field.is_nullable() {
        return Err(mismatch(format!(
            "partition column `{}` is null in the path but declared non-nullable (declare it as Option<_>)",
            field.name()
        )));
    }
    let text = StringArray::from(vec![value]);
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(&text, field.data_type(), &options).map_err(|e| {
        mismatch(format!(
            "partition column `{}`: the value {:?} in the path is not a {}: {e}",
            field.name(),
            value.unwrap_or_default(),
            field.data_type()
        ))
    })
}

/// Whether rows below the directory `name` may pass `predicates`: `false` only for a
/// partition directory (`column=value`) whose value one of them rules out.
pub(super) fn may_pass(predicates: &[Predicate], name: &str) -> bool {
    let Some((column, value)) = partition(name) else {
        return true;
    };
    predicates
        .iter()
        .all(|p| p.column != column || admits(p, value.as_deref()))
}

/// Whether a row with partition value `value` may pass `predicate` (`true` when unsure).
fn admits(predicate: &Predicate, value: Option<&str>) -> bool {
    use std::cmp::Ordering;
    let Some(value) = value else {
        // A null equals no value (only `==` compares a nullable column with a constant).
        return predicate.op != CmpOp::Eq;
    };
    let order: Option<Ordering> = match &predicate.value {
        Scalar::Int(v) => value.parse::<i64>().ok().map(|x| x.cmp(v)),
        Scalar::Float(v) => value.parse::<f64>().ok().and_then(|x| x.partial_cmp(v)),
        Scalar::Str(v) => Some(value.cmp(v.as_str())),
        Scalar::Bool(v) => value.parse::<bool>().ok().map(|x| x.cmp(v)),
    };
    let Some(order) = order else {
        return true;
    };
    match predicate.op {
        CmpOp::Lt => order.is_lt(),
        CmpOp::Le => order.is_le(),
        CmpOp::Gt => order.is_gt(),
        CmpOp::Ge => order.is_ge(),
        CmpOp::Eq => order.is_eq(),
    }
}
