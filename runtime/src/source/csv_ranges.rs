//! Cutting a large CSV file into byte ranges that each start at a record, although a quoted
//! field may hold newlines — and so a newline is not always a record's end.
//!
//! Whether a byte is inside quotes depends on every quote before it. The ranges are scanned in
//! parallel, each without knowing its start state: it counts its quotes and notes the first
//! newline it sees after an even number of them (where a record ends, if the range starts
//! outside quotes). A prefix sum of the counts then gives each range's true start state, and
//! so the first record boundary in each range. RFC 4180 CSV has quotes only around fields
//! (doubled inside them), so their parity is the quote state; a quote anywhere else (`5" disc`,
//! which the parser takes literally) would break that, so the scan also checks that every quote
//! stands where the state says it may, and a file that breaks the rule is not cut: it is read
//! whole by one worker. The same scan, on the error path only, turns a record number into the
//! file's line number.

use std::io::BufRead;
use std::ops::Range;

use super::lines::read_range;
use crate::error::{Error, Result};
use crate::storage::Location;

/// What one range's scan found, for each state the range may start in (index 0: outside
/// quotes, 1: inside).
struct Scan {
    /// Quotes in the range.
    quotes: u64,
    /// A quote stood where RFC 4180 has none.
    stray: [bool; 2],
    /// Offset (in the range) just after the first newline outside quotes; for the start
    /// inside quotes only when asked (see `scan`).
    boundary: [Option<u64>; 2],
}

/// The ranges (about `split_bytes` each) `location` is cut into, each starting at a record,
/// or `None` when the file must be read whole (a stray quote).
pub(super) fn record_ranges(
    location: &Location,
    size: u64,
    split_bytes: u64,
    delimiter: u8,
) -> Result<Option<Vec<Range<u64>>>> {
    let nominal: Vec<Range<u64>> = (0..size.div_ceil(split_bytes))
        .map(|i| i * split_bytes..((i + 1) * split_bytes).min(size))
        .collect();
    let scans: Vec<Scan> = {
        use rayon::prelude::*;
        nominal
            .par_iter()
            .map(|range| scan(location, range.clone(), size, delimiter, false))
            .collect::<Result<_>>()?
    };
    let mut starts = vec![0];
    let mut inside = 0usize;
    for (range, scan) in nominal.iter().zip(&scans) {
        let boundary = match inside {
            0 => scan.boundary[0],
            // Rare: the range starts inside a quoted field. Scan it again for that boundary.
            _ => self::scan(location, range.clone(), size, delimiter, true)?.boundary[1],
        };
        if range.start > 0
            && let Some(offset) = boundary
            && range.start + offset < size
        {
            starts.push(range.start + offset);
        }
        // A stray quote in the last range changes no boundary after it.
        if scan.stray[inside] && range.end < size {
            tracing::warn!(file = %location.url, "a quote outside RFC 4180's places: read whole, not cut");
            return Ok(None);
        }
        inside = (inside + (scan.quotes % 2) as usize) % 2;
    }
    starts.dedup();
    let mut ends: Vec<u64> = starts[1..].to_vec();
    ends.push(size);
    Ok(Some(
        starts.into_iter().zip(ends).map(|(s, e)| s..e).collect(),
    ))
}

/// The file's 1-based line where the `record`-th record (1-based, a header included) after
/// byte `start` begins; `start` is a record's start.
pub(super) fn line_of_record(location: &Location, start: u64, record: usize) -> Option<usize> {
    let mut reader = read_range(location, 0..u64::MAX).ok()?;
    let mut line = 1;
    let mut offset = 0u64;
    let mut inside = false;
    let mut records = 1;
    loop {
        let buf = reader.fill_buf().ok()?;
        if buf.is_empty() {
            return (offset >= start && records == record).then_some(line);
        }
        let len = buf.len();
        for (i, &byte) in buf.iter().enumerate() {
            let at = offset + i as u64;
            if at >= start && records == record {
                return Some(line);
            }
            match byte {
                b'"' if at >= start => inside = !inside,
                b'\n' => {
                    line += 1;
                    if at >= start && !inside {
                        records += 1;
                    }
                }
                _ => {}
            }
        }
        offset += len as u64;
        reader.consume(len);
    }
}

/// Scan `range` of a file of `size` bytes (see [`Scan`]). The boundary for a start inside
/// quotes is looked for only when `inside` asks: in a file whose lines hold an even number of
/// quotes there is none, and looking for it would visit every newline of the range, where
/// otherwise the scan jumps from quote to quote.
fn scan(
    location: &Location,
    range: Range<u64>,
    size: u64,
    delimiter: u8,
    inside: bool,
) -> Result<Scan> {
    let io = |source| Error::Io {
        url: location.url.to_string(),
        source,
    };
    // One byte before (what precedes the first quote) and one after (what follows the last).
    let from = range.start.saturating_sub(1);
    let to = (range.end + 1).min(size);
    let mut reader = read_range(location, from..to)?;
    let mut before: Option<u8> = None;
    let mut skip = range.start - from;
    let in_range = range.end - range.start;
    let mut result = Scan {
        quotes: 0,
        stray: [false; 2],
        boundary: [None; 2],
    };
    let field_edge =
        |b: Option<u8>| b.is_none_or(|b| b == delimiter || b == b'\n' || b == b'\r' || b == b'"');
    // A quote whose following byte is in the next buffer: its local count.
    let mut pending: Option<u64> = None;
    let mut offset = 0u64;
    loop {
        let buf = reader.fill_buf().map_err(io)?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        if skip > 0 {
            before = Some(buf[0]);
            skip -= 1;
            reader.consume(1);
            continue;
        }
        if let Some(local) = pending.take() {
            check_closing(&mut result, local, field_edge(Some(buf[0])));
        }
        let take = (in_range - offset).min(len as u64) as usize;
        if take == 0 {
            break;
        }
        let data = &buf[..take];
        let mut search = 0;
        // Quotes, and newlines until the boundary (or boundaries) wanted are found.
        while search < take {
            let want_newlines =
                result.boundary[0].is_none() || (inside && result.boundary[1].is_none());
            let found = if want_newlines {
                memchr::memchr2(b'"', b'\n', &data[search..])
            } else {
                memchr::memchr(b'"', &data[search..])
            };
            let Some(found) = found else { break };
            let i = search + found;
            search = i + 1;
            let local = result.quotes;
            if data[i] == b'\n' {
                // Outside quotes for the start state of the same parity as `local`.
                let state = (local % 2) as usize;
                result.boundary[state].get_or_insert(offset + i as u64 + 1);
                continue;
            }
            let previous = if i > 0 { Some(data[i - 1]) } else { before };
            if !field_edge(previous) {
                // An opening quote must start a field: it opens when the state is outside.
                result.stray[(local % 2) as usize] = true;
            }
            if i + 1 < len {
                check_closing(&mut result, local, field_edge(Some(buf[i + 1])));
            } else {
                pending = Some(local);
            }
            result.quotes += 1;
        }
        before = data.last().copied();
        offset += take as u64;
        reader.consume(take);
    }
    if let Some(local) = pending {
        check_closing(&mut result, local, true);
    }
    Ok(result)
}

/// A quote that closes (the state is inside) must end a field, or be the first of a `""`.
fn check_closing(result: &mut Scan, local: u64, at_edge: bool) {
    if !at_edge {
        // Inside for the start state of the other parity than `local`.
        result.stray[((local + 1) % 2) as usize] = true;
    }
}
