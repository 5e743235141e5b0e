//! JSON-lines splits: one object per line, fields matched to the record by name, streamed.

use std::io::BufRead;

use arrow::record_batch::RecordBatch;

use super::file::{DEFAULT_BLOCK_ROWS, FileConfig};
use super::lines::Lines;
use crate::error::{Error, Result};
use crate::storage::Location;

pub(super) fn read(
    location: &Location,
    lines: &dyn Fn() -> Result<Lines>,
    config: &FileConfig,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let url: &str = &location.url;
    // arrow-json does not say which line failed: find it ourselves (reading the split again),
    // only on the error path.
    let locate = |block: usize, reason: String| {
        let location = lines()
            .ok()
            .and_then(|again| {
                let start = again.start;
                let (line, why) = first_bad_line(again.reader)?;
                Some(format!(
                    "{} ({why})",
                    super::lines::locate(location, start, line)
                ))
            })
            .unwrap_or_else(|| format!("block {block}"));
        Error::Parse {
            url: url.to_owned(),
            location,
            reason,
        }
    };
    let reader = arrow_json::ReaderBuilder::new(config.schema.clone())
        .with_batch_size(DEFAULT_BLOCK_ROWS)
        .build(lines()?.reader)
        .map_err(|e| Error::Corrupt {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    for (block, batch) in reader.enumerate() {
        let batch = batch.map_err(|e| locate(block, e.to_string()))?;
        if !emit(batch)? {
            break;
        }
    }
    Ok(())
}

/// The first line (1-based) that is not a JSON object, with the parser's reason.
fn first_bad_line(reader: Box<dyn BufRead + Send>) -> Option<(usize, String)> {
    reader.split(b'\n').enumerate().find_map(|(i, line)| {
        let line = line.ok()?;
        let line = line.trim_ascii();
        if line.is_empty() {
            return None;
        }
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(e) => return Some((i + 1, format!("not UTF-8: {e}"))),
        };
        let mut decoder = arrow_json::reader::ReaderBuilder::new(std::sync::Arc::new(
            arrow::datatypes::Schema::empty(),
        ))
        .build_decoder()
        .ok()?;
        match decoder
            .decode(text.as_bytes())
            .and_then(|_| decoder.flush().map(|_| ()))
        {
            Ok(()) if text.starts_with('{') => None,
            Ok(()) => Some((i + 1, "not a JSON object".to_owned())),
            Err(e) => Some((i + 1, e.to_string())),
        }
    })
}
