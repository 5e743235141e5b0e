//! CSV splits: columns are matched to the record by header name, parsed as declared types.

use std::sync::Arc;

use super::file::{CsvOptions, DEFAULT_BLOCK_ROWS, FileConfig, open};
use super::lines::Lines;
use crate::error::{Error, Result};
use crate::storage::Location;
use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow_csv::reader::Format;

pub(super) fn read(
    location: &Location,
    lines: Lines,
    options: &CsvOptions,
    config: &FileConfig,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let url: &str = &location.url;
    let format = Format::default()
        .with_header(options.header)
        .with_delimiter(options.delimiter);
    // Only the split at the start of the file holds the header line.
    let data_format = Format::default()
        .with_header(options.header && lines.start == 0)
        .with_delimiter(options.delimiter);
    let mismatch = |reason: String| Error::SchemaMismatch {
        url: url.to_owned(),
        record: config.record.to_owned(),
        reason,
    };
    // The file's columns, typed as declared where declared; undeclared ones stay text and
    // are not read.
    let file_schema = if options.header {
        let (header, _) =
            format
                .infer_schema(open(location)?, Some(0))
                .map_err(|e| Error::Corrupt {
                    url: url.to_owned(),
                    reason: e.into(),
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
    let file_schema = Arc::new(file_schema);
    let start = lines.start;
    // Arrow counts records (a header is record 1 of the file's first split); errors name
    // the file's line, which quoted newlines make another number.
    let position = |record: usize| match super::csv_ranges::line_of_record(location, start, record)
    {
        Some(line) => format!("line {line}"),
        None => super::lines::locate(location, start, record),
    };
    let reader = arrow_csv::ReaderBuilder::new(file_schema.clone())
        .with_format(data_format)
        .with_batch_size(DEFAULT_BLOCK_ROWS)
        .with_projection(projection)
        .build_buffered(lines.reader)
        .map_err(|e| Error::Corrupt {
            url: url.to_owned(),
            reason: e.into(),
        })?;
    for (block, batch) in reader.enumerate() {
        let batch = batch.map_err(|e| parse_error(url, block, &file_schema, &position, e))?;
        let batch = empty_strings_for_nulls(batch, &config.schema);
        let batch = super::conform::conformed(&batch, url, block, config)?;
        if !emit(batch)? {
            break;
        }
    }
    Ok(())
}

/// CSV cannot tell an empty string from a missing value, and the reader makes every empty
/// field null: a column declared `String` (not `Option<String>`) takes them as `""`.
fn empty_strings_for_nulls(batch: RecordBatch, declared: &Schema) -> RecordBatch {
    let schema = batch.schema();
    let needs = |(field, column): (&Arc<Field>, &ArrayRef)| {
        column.null_count() > 0
            && column.data_type() == &DataType::Utf8
            && declared
                .field_with_name(field.name())
                .is_ok_and(|d| !d.is_nullable() && d.data_type() == &DataType::Utf8)
    };
    // The usual block: nothing to fill, nothing rebuilt.
    if !schema.fields().iter().zip(batch.columns()).any(needs) {
        return batch;
    }
    let fill = |(field, column): (&Arc<Field>, &ArrayRef)| -> ArrayRef {
        if !needs((field, column)) {
            return column.clone();
        }
        Arc::new(
            column
                .as_string::<i32>()
                .iter()
                .map(|v| Some(v.unwrap_or("")))
                .collect::<StringArray>(),
        )
    };
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(fill)
        .collect();
    RecordBatch::try_new(schema, columns).expect("same schema, same lengths")
}

/// A parse error naming the line (1-based; the header is line 1; in a later split, counted
/// from the split's first line) and the column.
fn parse_error(
    url: &str,
    block: usize,
    schema: &Schema,
    position: &dyn Fn(usize) -> String,
    error: arrow::error::ArrowError,
) -> Error {
    let message = error.to_string();
    let number_after = |key: &str| -> Option<usize> {
        let rest = &message[message.find(key)? + key.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let location = match (number_after("for column "), number_after(" at line ")) {
        (Some(column), Some(line)) => {
            let name = schema
                .fields()
                .get(column)
                .map_or("?", |f| f.name().as_str());
            // With a header arrow counts it as line 0; without, L is the 0-based record of
            // the split: either way the 1-based line is L + 1.
            format!("{}, column `{name}`", position(line + 1))
        }
        _ => format!("block {block}"),
    };
    let reason = message
        .split(" for column ")
        .next()
        .unwrap_or(&message)
        .trim_start_matches("Parser error: ")
        .to_owned();
    Error::Parse {
        url: url.to_owned(),
        location,
        reason,
    }
}
