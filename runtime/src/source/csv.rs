//! CSV splits: columns are matched to the record by header name, parsed as declared types.

use std::io::Cursor;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow_csv::reader::Format;
use bytes::Bytes;

use super::file::{CsvOptions, DEFAULT_BLOCK_ROWS, FileConfig};
use crate::error::{Error, Result};

pub(super) fn read(
    url: &str,
    bytes: Bytes,
    options: &CsvOptions,
    config: &FileConfig,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let format = Format::default()
        .with_header(options.header)
        .with_delimiter(options.delimiter);
    let mismatch = |reason: String| Error::SchemaMismatch {
        url: url.to_owned(),
        record: config.record.to_owned(),
        reason,
    };
    // The file's columns, typed as declared where declared; undeclared ones stay text and
    // are not read.
    let file_schema = if options.header {
        let (header, _) = format
            .infer_schema(Cursor::new(&bytes), Some(0))
            .map_err(|e| Error::Corrupt {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let fields: Vec<Field> = header
            .fields()
            .iter()
            .map(|f| match config.schema.field_with_name(f.name()) {
                Ok(declared) => declared.as_ref().clone().with_nullable(true),
                Err(_) => Field::new(f.name(), DataType::Utf8, true),
            })
            .collect();
        Schema::new(fields)
    } else {
        Schema::new(
            config
                .schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        )
    };
    let projection = config
        .schema
        .fields()
        .iter()
        .map(|f| {
            file_schema
                .index_of(f.name())
                .map_err(|_| mismatch(format!("missing column `{}` in the header", f.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    let reader = arrow_csv::ReaderBuilder::new(Arc::new(file_schema))
        .with_format(format)
        .with_batch_size(DEFAULT_BLOCK_ROWS)
        .with_projection(projection)
        .build(Cursor::new(bytes))
        .map_err(|e| Error::Corrupt {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    for (block, batch) in reader.enumerate() {
        let batch = batch.map_err(|e| Error::Parse {
            url: url.to_owned(),
            location: format!("block {block}"),
            reason: e.to_string(),
        })?;
        let batch =
            super::conform(&batch, &config.schema).map_err(|reason| Error::SchemaMismatch {
                url: format!("{url}, block {block}"),
                record: config.record.to_owned(),
                reason,
            })?;
        if !emit(batch)? {
            break;
        }
    }
    Ok(())
}
