//! Encoding one file: parquet (snappy), CSV with a header, JSON lines, Arrow IPC.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::WriteFormat;
use super::output::Output;
use crate::error::Cause;
use crate::storage::Location;

/// One file being encoded.
pub(super) enum Encoder {
    Parquet(Box<parquet::arrow::ArrowWriter<Output>>),
    /// CSV so far; the header goes in with the first rows (or alone, for an empty file).
    Csv {
        out: Output,
        bytes: usize,
        schema: SchemaRef,
        header: bool,
    },
    Json {
        out: Output,
        bytes: usize,
    },
    /// Arrow IPC; `bytes` counts the blocks' memory (the writer does not say what it wrote).
    Ipc {
        writer: Box<arrow::ipc::writer::FileWriter<Output>>,
        bytes: usize,
    },
}

impl Encoder {
    /// An encoder of `file`, whose first rows are `first` (they decide which parquet columns
    /// are dictionary-encoded).
    pub(super) fn new(
        format: WriteFormat,
        schema: &SchemaRef,
        file: &Location,
        first: &RecordBatch,
    ) -> Result<Self, Cause> {
        let out = Output::open(file)?;
        Ok(match format {
            WriteFormat::Parquet => {
                let mut props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY);
                for field in without_dictionary(first) {
                    props = props.set_column_dictionary_enabled(
                        parquet::schema::types::ColumnPath::from(field),
                        false,
                    );
                }
                let props = props.build();
                let writer =
                    parquet::arrow::ArrowWriter::try_new(out, Arc::clone(schema), Some(props))?;
                Encoder::Parquet(Box::new(writer))
            }
            WriteFormat::Csv => Encoder::Csv {
                out,
                bytes: 0,
                schema: Arc::clone(schema),
                header: false,
            },
            WriteFormat::Json => Encoder::Json { out, bytes: 0 },
            WriteFormat::Ipc => Encoder::Ipc {
                writer: Box::new(arrow::ipc::writer::FileWriter::try_new(
                    out,
                    schema.as_ref(),
                )?),
                bytes: 0,
            },
        })
    }

    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<(), Cause> {
        let mut text = Vec::new();
        match self {
            Encoder::Parquet(w) => return Ok(w.write(batch)?),
            Encoder::Ipc { writer, bytes } => {
                *bytes += batch.get_array_memory_size();
                return Ok(writer.write(batch)?);
            }
            Encoder::Csv { header, .. } => {
                let mut writer = arrow_csv::WriterBuilder::new()
                    .with_header(!*header)
                    .build(&mut text);
                *header = true;
                writer.write(batch)?;
            }
            Encoder::Json { .. } => {
                let mut writer = arrow_json::LineDelimitedWriter::new(&mut text);
                writer.write(batch)?;
                writer.finish()?;
            }
        }
        let (Encoder::Csv { out, bytes, .. } | Encoder::Json { out, bytes }) = self else {
            unreachable!("parquet and IPC returned above")
        };
        *bytes += text.len();
        Ok(std::io::Write::write_all(out, &text)?)
    }

    /// Bytes encoded so far (for parquet, including the row group being built).
    pub(super) fn size(&self) -> usize {
        match self {
            Encoder::Parquet(w) => w.bytes_written() + w.in_progress_size(),
            Encoder::Csv { bytes, .. }
            | Encoder::Json { bytes, .. }
            | Encoder::Ipc { bytes, .. } => *bytes,
        }
    }

    pub(super) fn finish(mut self) -> Result<Output, Cause> {
        if let Encoder::Csv {
            header: false,
            schema,
            ..
        } = &self
        {
            let empty = RecordBatch::new_empty(Arc::clone(schema));
            self.write(&empty)?;
        }
        match self {
            Encoder::Parquet(w) => Ok(w.into_inner()?),
            Encoder::Ipc { mut writer, .. } => {
                writer.finish()?;
                Ok(writer.into_inner()?)
            }
            Encoder::Csv { out, .. } | Encoder::Json { out, .. } => Ok(out),
        }
    }
}

/// Rows of a file's first block sampled to choose its columns' encodings (a write of many
/// small files samples each: the sample must cost little beside encoding the file).
const SAMPLE_ROWS: usize = 1024;

/// The top-level columns of plain values that are not worth a dictionary: in the first rows
/// of the file, most values are distinct (ids, timestamps, measurements). Parquet would build
/// a dictionary of each until it outgrew its page, and only then fall back — a fifth of the
/// time of a write of unique values. Columns whose values repeat keep it.
fn without_dictionary(first: &RecordBatch) -> Vec<String> {
    let rows = first.num_rows().min(SAMPLE_ROWS);
    if rows < 64 {
        return Vec::new();
    }
    first
        .schema()
        .fields()
        .iter()
        .zip(first.columns())
        .filter(|(field, _)| !field.data_type().is_nested())
        .filter(|(field, column)| {
            let sample = column.slice(0, rows);
            let Ok(converter) = arrow::row::RowConverter::new(vec![arrow::row::SortField::new(
                field.data_type().clone(),
            )]) else {
                return false;
            };
            let Ok(encoded) = converter.convert_columns(&[sample]) else {
                return false;
            };
            let distinct: std::collections::HashSet<_, foldhash::fast::RandomState> =
                encoded.iter().collect();
            distinct.len() * 2 > rows
        })
        .map(|(field, _)| field.name().clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::record_batch::RecordBatch;

    use super::without_dictionary;

    #[test]
    fn columns_of_mostly_distinct_values_go_without_a_dictionary() {
        let n = 10_000;
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
            ),
            (
                "category",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("c{}", i % 7)),
                )),
            ),
            (
                "price",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| (i % 100) as f64),
                )),
            ),
            (
                "note",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("n{i}")),
                )),
            ),
        ])
        .unwrap();
        assert_eq!(without_dictionary(&batch), ["id", "note"]);
        // Too few rows to judge: parquet's default stays.
        assert!(without_dictionary(&batch.slice(0, 10)).is_empty());
    }
}
