//! Text splits: one row per line, in column `text`.

use std::sync::Arc;

use arrow::array::{ArrayBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;

use super::file::DEFAULT_BLOCK_ROWS;
use crate::error::{Error, Result};

pub(super) fn read(
    url: &str,
    bytes: Bytes,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if body.is_empty() {
        return Ok(());
    }
    let mut builder = StringBuilder::new();
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = std::str::from_utf8(line).map_err(|e| Error::Parse {
            url: url.to_owned(),
            location: format!("line {}", i + 1),
            reason: format!("not UTF-8: {e}"),
        })?;
        builder.append_value(line);
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
