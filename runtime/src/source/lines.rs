//! The lines of one byte range of a file, for cutting line-oriented formats (CSV, JSON lines,
//! text) into splits read in parallel. A split owns the lines that *start* inside its range:
//! it skips the partial line it begins in (the previous split finishes it) and reads on past
//! its end to finish its last line. A CSV file's ranges are cut where records start
//! (`csv_ranges.rs`), since a quoted field may hold newlines.

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::ops::Range;

use futures::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore};

use super::file::{ObjectChunks, buffered};
use crate::error::{Error, Result};
use crate::io_runtime::block_on;
use crate::storage::Location;

/// A reader over the lines of a split, and where its first line starts in the file.
pub(super) struct Lines {
    pub reader: Box<dyn BufRead + Send>,
    /// The byte offset of the first line (0 for a whole file).
    pub start: u64,
}

/// Where `line` (1-based, counted from the first line of a split starting at byte `start`) is,
/// in words: the file's line (its lines before the split are counted, on this error path only).
pub(super) fn locate(location: &Location, start: u64, line: usize) -> String {
    match start {
        0 => format!("line {line}"),
        start => match line_at(location, start) {
            Some(first) => format!("line {}", first + line - 1),
            None => format!("line {line} after byte {start}"),
        },
    }
}

/// The file's 1-based line number of the byte at `offset` (a line's start).
pub(super) fn line_at(location: &Location, offset: u64) -> Option<usize> {
    let mut reader = read_range(location, 0..offset).ok()?;
    let mut newlines = 0;
    loop {
        let buf = reader.fill_buf().ok()?;
        if buf.is_empty() {
            return Some(newlines + 1);
        }
        newlines += memchr::memchr_iter(b'\n', buf).count();
        let len = buf.len();
        reader.consume(len);
    }
}

/// A buffered reader of `range` of the file (clipped at its end).
pub(super) fn read_range(
    location: &Location,
    range: Range<u64>,
) -> Result<Box<dyn BufRead + Send>> {
    let io = |source| Error::Io {
        url: location.url.to_string(),
        source,
    };
    if let Some(path) = &location.local {
        let mut file = std::fs::File::open(path).map_err(io)?;
        file.seek(SeekFrom::Start(range.start)).map_err(io)?;
        let length = range.end.saturating_sub(range.start);
        return Ok(buffered(file.take(length), Some(length)));
    }
    let get = if range.end == u64::MAX {
        GetRange::Offset(range.start)
    } else {
        GetRange::Bounded(range.clone())
    };
    let options = GetOptions {
        range: Some(get),
        ..Default::default()
    };
    let result = block_on(location.store.get_opts(&location.path, options)).map_err(|source| {
        Error::Storage {
            url: location.url.to_string(),
            source,
        }
    })?;
    let length = range.end.saturating_sub(range.start);
    Ok(buffered(
        ObjectChunks::new(result.into_stream().boxed()),
        Some(length),
    ))
}

/// The lines of `location` starting in `range`, or all of them.
pub(super) fn open(location: &Location, range: Option<Range<u64>>) -> Result<Lines> {
    let Some(range) = range else {
        return Ok(Lines {
            reader: super::file::open(location)?,
            start: 0,
        });
    };
    let io = |source| Error::Io {
        url: location.url.to_string(),
        source,
    };
    // The range, and a line past its end to finish its last one: what the buffers hold.
    let length = (range.end.saturating_sub(range.start)).saturating_add(4 << 10);
    // Start one byte early and drop what remains of that line: if the range starts exactly at
    // a line, the byte before it is the previous line's newline.
    let from = range.start.saturating_sub(1);
    let mut reader: Box<dyn BufRead + Send> = match &location.local {
        Some(path) => {
            let mut file = std::fs::File::open(path).map_err(io)?;
            file.seek(SeekFrom::Start(from)).map_err(io)?;
            buffered(file, Some(length))
        }
        None => {
            let options = GetOptions {
                range: Some(GetRange::Offset(from)),
                ..Default::default()
            };
            let result =
                block_on(location.store.get_opts(&location.path, options)).map_err(|source| {
                    Error::Storage {
                        url: location.url.to_string(),
                        source,
                    }
                })?;
            let chunks = ObjectChunks::new(result.into_stream().boxed());
            buffered(chunks, Some(length))
        }
    };
    let mut start = from;
    if range.start > 0 {
        let mut partial = Vec::new();
        start += reader.read_until(b'\n', &mut partial).map_err(io)? as u64;
    }
    let bounded = Bounded {
        inner: reader,
        position: start,
        end: range.end,
        line: Vec::new(),
        served: 0,
    };
    Ok(Lines {
        reader: buffered(bounded, Some(length)),
        start,
    })
}

/// Whole lines from `inner` while they start before `end`.
struct Bounded {
    inner: Box<dyn BufRead + Send>,
    /// The file offset of the next byte `inner` gives.
    position: u64,
    end: u64,
    line: Vec<u8>,
    served: usize,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.served == self.line.len() {
            if self.position >= self.end {
                return Ok(0);
            }
            self.line.clear();
            self.served = 0;
            let read = self.inner.read_until(b'\n', &mut self.line)?;
            if read == 0 {
                return Ok(0);
            }
            self.position += read as u64;
        }
        let n = buf.len().min(self.line.len() - self.served);
        buf[..n].copy_from_slice(&self.line[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

/// Read the next line (with its `\n`) into `line`, replacing what it held; `false` at the end.
pub(super) fn next_line(reader: &mut dyn BufRead, line: &mut Vec<u8>, url: &str) -> Result<bool> {
    line.clear();
    let read = reader.read_until(b'\n', line).map_err(|source| Error::Io {
        url: url.to_owned(),
        source,
    })?;
    Ok(read > 0)
}
