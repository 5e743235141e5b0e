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
    let mut decoder = arrow_json::ReaderBuilder::new(config.schema.clone())
        .with_batch_size(DEFAULT_BLOCK_ROWS)
        .build_decoder()
        .map_err(|e| Error::Corrupt {
            url: url.to_owned(),
            reason: e.into(),
        })?;
    let Lines { mut reader, start } = lines()?;
    let mut flush =
        |decoder: &mut arrow_json::reader::Decoder, block: &mut usize| -> Result<bool> {
            let Some(batch) = decoder.flush().map_err(|e| locate(*block, e.to_string()))? else {
                return Ok(true);
            };
            *block += 1;
            emit(batch)
        };
    // Fed line by line, so that a record must end on its line: arrow-json alone reads a
    // record across lines (a pretty-printed object, a raw newline in a string), which a file
    // cut in byte ranges would then read otherwise than whole.
    let (mut line, mut number, mut block) = (Vec::new(), 0, 0);
    while super::lines::next_line(&mut reader, &mut line, url)? {
        number += 1;
        let failed = |reason: String| Error::Parse {
            url: url.to_owned(),
            location: super::lines::locate(location, start, number),
            reason,
        };
        let mut rest = &line[..];
        while !rest.is_empty() {
            let used = decoder.decode(rest).map_err(|e| failed(e.to_string()))?;
            rest = &rest[used..];
            // A full block stops the decoder (it then takes nothing): hand the block on.
            if (used == 0 || decoder.len() >= DEFAULT_BLOCK_ROWS)
                && !flush(&mut decoder, &mut block)?
            {
                return Ok(());
            }
        }
        if decoder.has_partial_record() {
            return Err(failed(
                "the record does not end on its line (JSON lines hold one record per line)"
                    .to_owned(),
            ));
        }
    }
    flush(&mut decoder, &mut block)?;
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
