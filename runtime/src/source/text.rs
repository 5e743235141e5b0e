//! Text splits: one row per line, in column `text`, streamed.

use std::sync::Arc;

use arrow::array::{ArrayBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::file::DEFAULT_BLOCK_ROWS;
use super::lines::Lines;
use crate::error::{Error, Result};
use crate::storage::Location;

pub(super) fn read(
    location: &Location,
    lines: Lines,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let url: &str = &location.url;
    let (mut reader, start) = (lines.reader, lines.start);
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
    let mut builder = StringBuilder::new();
    let mut line = Vec::new();
    let mut number = 0;
    while super::lines::next_line(&mut reader, &mut line, url)? {
        number += 1;
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let text = std::str::from_utf8(content).map_err(|e| Error::Parse {
            url: url.to_owned(),
            location: super::lines::locate(location, start, number),
            reason: format!("not UTF-8: {e}"),
        })?;
        builder.append_value(text);
        if builder.len() == DEFAULT_BLOCK_ROWS && !emit(finish(&schema, &mut builder)?)? {
            return Ok(());
        }
    }
    if builder.len() > 0 {
        emit(finish(&schema, &mut builder)?)?;
    }
    Ok(())
}

fn finish(schema: &Arc<Schema>, builder: &mut StringBuilder) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(builder.finish())],
    )?)
}
