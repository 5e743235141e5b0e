//! Parquet splits: the footer is checked against the declared columns, then only those
//! columns are fetched and decoded (projection pushdown).

use std::ops::Range;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderBuilder, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::file::{DEFAULT_BLOCK_ROWS, FileConfig};
use crate::error::{Error, Result};
use crate::io_runtime::block_on;
use crate::record::check_schema;
use crate::storage::Location;

pub(super) fn read(
    location: &Location,
    row_groups: Option<Range<usize>>,
    config: &FileConfig,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let Some(path) = &location.local else {
        return read_from(
            ObjectReader(location.clone()),
            &location.url,
            row_groups,
            config,
            emit,
        );
    };
    // A local file is read synchronously, opened once per split: a shared `File` would share
    // its position between threads.
    let url = &location.url;
    let file = std::fs::File::open(path).map_err(|e| Error::Io {
        url: url.to_string(),
        source: e,
    })?;
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .and_then(|m| with_read_hints(m, config))
        .map_err(|e| corrupt(url, e))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
    let reader = prepare(builder, url, row_groups, config)?
        .build()
        .map_err(|e| corrupt(url, e))?;
    for (block, batch) in reader.enumerate() {
        let batch = batch.map_err(|e| corrupt(url, e.into()))?;
        if !emit(super::conform::conformed(&batch, url, block, config)?)? {
            break;
        }
    }
    Ok(())
}

/// `schema` with the string columns among `columns` as `Dictionary(Int32, Utf8)`.
pub(super) fn dictionary_schema(schema: &SchemaRef, columns: &[String]) -> SchemaRef {
    if columns.is_empty() {
        return schema.clone();
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 if columns.contains(f.name()) => f.as_ref().clone().with_data_type(
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            ),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The file's reader metadata, asking the decoder for the declared representation of every
/// string and binary column (a `large_string` of Polars, a `string_view`, a dictionary of
/// pandas' categoricals come as `Utf8`; the dictionary-key columns as dictionaries), so that
/// no block needs converting afterwards. Where the decoder cannot, `conform` converts.
fn with_read_hints(
    metadata: ArrowReaderMetadata,
    config: &FileConfig,
) -> parquet::errors::Result<ArrowReaderMetadata> {
    let bytes_like = |t: &DataType| {
        matches!(
            t,
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
        ) || matches!(t, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
    };
    let file = metadata.schema();
    let mut changed = false;
    let fields: Vec<Field> = file
        .fields()
        .iter()
        .map(|f| match config.schema.field_with_name(f.name()) {
            Ok(declared)
                if declared.data_type() != f.data_type()
                    && bytes_like(declared.data_type())
                    && bytes_like(f.data_type())
                    && is_text(declared.data_type()) == is_text(f.data_type()) =>
            {
                changed = true;
                f.as_ref()
                    .clone()
                    .with_data_type(declared.data_type().clone())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    if !changed {
        return Ok(metadata);
    }
    let hint = Arc::new(Schema::new_with_metadata(fields, file.metadata().clone()));
    // A hint the decoder refuses: read the file's own types, `conform` converts them.
    Ok(ArrowReaderMetadata::try_new(
        metadata.metadata().clone(),
        ArrowReaderOptions::new().with_schema(hint),
    )
    .unwrap_or(metadata))
}

/// Whether a string or binary type holds text.
fn is_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_text(values),
        _ => false,
    }
}

/// Check the file's schema against the declared columns, then ask for those columns only, in
/// the row groups of the split that the pushed predicates do not rule out.
fn prepare<T>(
    builder: ArrowReaderBuilder<T>,
    url: &str,
    row_groups: Option<Range<usize>>,
    config: &FileConfig,
) -> Result<ArrowReaderBuilder<T>> {
    check_schema(&config.schema, builder.schema()).map_err(|reason| Error::SchemaMismatch {
        url: url.to_owned(),
        record: config.record.to_owned(),
        reason,
    })?;
    let names = config.schema.fields().iter().map(|f| f.name().as_str());
    let mask = ProjectionMask::columns(builder.parquet_schema(), names);
    let matching = super::predicate::row_groups(builder.metadata(), &config.predicates);
    let groups: Option<Vec<usize>> = match (row_groups, matching) {
        (None, None) => None,
        (Some(range), None) => Some(range.collect()),
        (None, Some(matching)) => Some(matching),
        (Some(range), Some(matching)) => {
            Some(matching.into_iter().filter(|g| range.contains(g)).collect())
        }
    };
    let builder = match groups {
        Some(groups) => builder.with_row_groups(groups),
        None => builder,
    };
    Ok(builder
        .with_projection(mask)
        .with_batch_size(DEFAULT_BLOCK_ROWS))
}

fn corrupt(url: &str, e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<object_store::Error>() {
                Ok(source) => Error::Storage {
                    url: url.to_owned(),
                    source: *source,
                },
                Err(other) => Error::Corrupt {
                    url: url.to_owned(),
                    reason: crate::error::Cause::Other(other),
                },
            }
        }
        source => Error::Parquet {
            url: url.to_owned(),
            source,
        },
    }
}

/// Rows per row-group split: consecutive row groups are grouped until they hold this many.
const SPLIT_ROWS: i64 = 256 * 1024;

/// The row-group ranges a local parquet file is cut into, or `None` when one split will do
/// (one range, or not a local file). A footer that cannot be read is left for the split's read
/// to report.
pub(super) fn row_group_ranges(location: &Location) -> Result<Option<Vec<Range<usize>>>> {
    let Some(path) = &location.local else {
        return Ok(None);
    };
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(None);
    };
    // A footer that fails (or makes the parser panic) is read, and reported, with the file.
    let parsed = std::panic::catch_unwind(|| ParquetMetaDataReader::new().parse_and_finish(&file));
    let Ok(Ok(metadata)) = parsed else {
        return Ok(None);
    };
    let mut ranges = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (index, group) in metadata.row_groups().iter().enumerate() {
        rows += group.num_rows();
        if rows >= SPLIT_ROWS {
            ranges.push(start..index + 1);
            (start, rows) = (index + 1, 0);
        }
    }
    if start < metadata.num_row_groups() {
        ranges.push(start..metadata.num_row_groups());
    }
    Ok((ranges.len() > 1).then_some(ranges))
}

/// Reads byte ranges of one object; the footer is found with one `head` for the size.
struct ObjectReader(Location);

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.0
                .store
                .get_range(&self.0.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.0
                .store
                .get_ranges(&self.0.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self
                .0
                .store
                .head(&self.0.path)
                .await
                .map_err(external)?
                .size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

fn external(e: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

/// Read from any async parquet reader (tests wrap one to count the bytes fetched).
pub(super) fn read_from<R: AsyncFileReader + Unpin + Send + 'static>(
    reader: R,
    url: &str,
    row_groups: Option<Range<usize>>,
    config: &FileConfig,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    block_on(async {
        let mut reader = reader;
        let metadata = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
            .await
            .and_then(|m| with_read_hints(m, config))
            .map_err(|e| corrupt(url, e))?;
        let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata);
        let mut stream = prepare(builder, url, row_groups, config)?
            .build()
            .map_err(|e| corrupt(url, e))?;
        let mut block = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| corrupt(url, e))?;
            block += 1;
            if !emit(super::conform::conformed(&batch, url, block - 1, config)?)? {
                break;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;
    use crate::source::FileFormat;

    /// An in-memory parquet file that counts the bytes a reader fetches.
    struct CountingReader {
        data: Bytes,
        fetched: Arc<AtomicU64>,
    }

    impl AsyncFileReader for CountingReader {
        fn get_bytes(
            &mut self,
            range: Range<u64>,
        ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
            self.fetched
                .fetch_add(range.end - range.start, Ordering::Relaxed);
            let bytes = self.data.slice(range.start as usize..range.end as usize);
            async move { Ok(bytes) }.boxed()
        }

        fn get_metadata<'a>(
            &'a mut self,
            options: Option<&'a ArrowReaderOptions>,
        ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
            let data = self.data.clone();
            async move {
                let reader = parquet::file::metadata::ParquetMetaDataReader::new()
                    .with_arrow_reader_options(options);
                Ok(Arc::new(reader.parse_and_finish(&data)?))
            }
            .boxed()
        }
    }

    fn sample_file() -> Bytes {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("price", DataType::Float64, false),
            Field::new("note", DataType::Utf8, false),
        ]));
        let n = 50_000;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64))),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("a long note number {i}")),
                )),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        Bytes::from(out)
    }

    fn fetched_for(columns: &[(&str, DataType)]) -> (u64, usize) {
        let data = sample_file();
        let fetched = Arc::new(AtomicU64::new(0));
        let reader = CountingReader {
            data: data.clone(),
            fetched: fetched.clone(),
        };
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), false))
                .collect::<Vec<_>>(),
        ));
        let config = FileConfig {
            format: FileFormat::Parquet,
            record: "Test",
            schema,
            include_paths: false,
            predicates: Vec::new(),
        };
        let mut rows = 0;
        read_from(reader, "mem://sample.parquet", None, &config, &mut |b| {
            assert_eq!(b.num_columns(), columns.len());
            rows += b.num_rows();
            Ok(true)
        })
        .unwrap();
        (fetched.load(Ordering::Relaxed), rows)
    }

    #[test]
    fn projection_fetches_only_used_columns() {
        let (all, rows_all) = fetched_for(&[
            ("id", DataType::Int64),
            ("price", DataType::Float64),
            ("note", DataType::Utf8),
        ]);
        let (price_only, rows) = fetched_for(&[("price", DataType::Float64)]);
        assert_eq!((rows_all, rows), (50_000, 50_000));
        // The note column dominates the file: reading price alone must fetch far less.
        assert!(
            price_only * 3 < all,
            "price only fetched {price_only} bytes of {all}"
        );
    }
}
