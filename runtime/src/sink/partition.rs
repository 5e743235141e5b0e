//! `partition_by`: each block cut by the values of the partition columns, one
//! `column=value/` directory per distinct value, escaped as Hive does (`storage/hive.rs`).

use arrow::array::{Array, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use super::FileSink;
use crate::error::Result;

impl FileSink {
    /// `batch` cut by partition: (directory below the sink's, rows), in first-seen order.
    pub(super) fn partition(&self, batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
        if self.partitions.is_empty() {
            return Ok(vec![(String::new(), batch.project(&self.stored)?)]);
        }
        let keys: Vec<StringArray> = self
            .partitions
            .iter()
            .map(|&i| {
                Ok(cast(batch.column(i), &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone())
            })
            .collect::<Result<_>>()?;
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for row in 0..batch.num_rows() {
            let directory: Vec<String> = self
                .options
                .partition_by
                .iter()
                .zip(&keys)
                .map(|(name, values)| {
                    let value = (!values.is_null(row)).then(|| values.value(row));
                    crate::storage::hive::directory(name, value)
                })
                .collect();
            let directory = directory.join("/");
            let slot = *index.entry(directory.clone()).or_insert_with(|| {
                groups.push((directory, Vec::new()));
                groups.len() - 1
            });
            groups[slot].1.push(row as u32);
        }
        let stored = batch.project(&self.stored)?;
        groups
            .into_iter()
            .map(|(directory, rows)| {
                let rows = arrow::array::UInt32Array::from(rows);
                Ok((
                    directory,
                    arrow::compute::take_record_batch(&stored, &rows)?,
                ))
            })
            .collect()
    }
}
