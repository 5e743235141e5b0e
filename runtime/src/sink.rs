//! Sinks: files under a directory URL. Each input split's output goes to its own files, written
//! by the worker that read the split: `part-00003.parquet` for split 3 (then
//! `part-00003-1.parquet`, ... past [`ROWS_PER_FILE`] rows), so names are deterministic. A file
//! is encoded in memory and put whole, so no half-written file is ever visible. An empty
//! output still writes `part-00000` with the schema, so reading the directory gives an empty
//! dataset, not a missing one.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use object_store::{ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};
use crate::io_runtime::block_on;
use crate::storage::{Location, resolve};

/// Rows per output file before a new file is started.
pub const ROWS_PER_FILE: usize = 1 << 20;

/// The file format of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFormat {
    /// Apache Parquet (snappy).
    Parquet,
    /// CSV with a header line.
    Csv,
    /// JSON lines.
    Json,
}

impl WriteFormat {
    /// The format a sink stage names (`write_parquet`, `write_csv`, `write_json`).
    pub fn from_method(method: &str) -> Self {
        match method {
            "write_csv" => WriteFormat::Csv,
            "write_json" => WriteFormat::Json,
            _ => WriteFormat::Parquet,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            WriteFormat::Parquet => "parquet",
            WriteFormat::Csv => "csv",
            WriteFormat::Json => "json",
        }
    }
}

/// What a sink wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// URLs of the files written, in order.
    pub files: Vec<String>,
    /// Rows written.
    pub rows: usize,
}

/// The files one split's output went to.
#[derive(Debug, Default)]
pub struct WrittenPart {
    files: Vec<String>,
    rows: usize,
}

/// Files of one format under one directory.
pub struct FileSink {
    directory: Location,
    format: WriteFormat,
    schema: SchemaRef,
}

impl FileSink {
    /// A sink writing `schema`'s rows as `format` under `location`.
    pub fn new(location: &str, format: WriteFormat, schema: SchemaRef) -> Result<Self> {
        Ok(Self {
            directory: resolve(location)?,
            format,
            schema,
        })
    }

    /// The sink as `explain()` and `stats()` name it.
    pub fn describe(&self) -> String {
        let method = match self.format {
            WriteFormat::Parquet => "write_parquet",
            WriteFormat::Csv => "write_csv",
            WriteFormat::Json => "write_json",
        };
        format!("{method}(\"{}\")", self.directory.url)
    }

    /// The writer of split `split`'s files.
    pub fn part(&self, split: usize) -> PartWriter<'_> {
        PartWriter {
            sink: self,
            split,
            encoder: None,
            written: WrittenPart::default(),
            rows_in_file: 0,
        }
    }

    /// The summary of a run whose splits wrote `parts`, in split order. Writes an empty file
    /// when nothing else was written.
    pub fn summarize(&self, parts: Vec<WrittenPart>) -> Result<WriteSummary> {
        let mut summary = WriteSummary {
            files: Vec::new(),
            rows: 0,
        };
        for part in parts {
            summary.files.extend(part.files);
            summary.rows += part.rows;
        }
        if summary.files.is_empty() {
            let mut empty = self.part(0);
            empty.encoder = Some(
                Encoder::new(self.format, &self.schema)
                    .map_err(|reason| self.failed(0, 0, reason))?,
            );
            empty.flush()?;
            summary.files = empty.written.files;
        }
        Ok(summary)
    }

    fn file(&self, split: usize, sequence: usize) -> Location {
        let extension = self.format.extension();
        let name = match sequence {
            0 => format!("part-{split:05}.{extension}"),
            n => format!("part-{split:05}-{n}.{extension}"),
        };
        self.directory.child(&name)
    }

    fn failed(&self, split: usize, sequence: usize, reason: String) -> Error {
        Error::Write {
            url: self.file(split, sequence).url.to_string(),
            reason,
        }
    }
}

/// Writes one split's output, starting a new file every [`ROWS_PER_FILE`] rows.
pub struct PartWriter<'a> {
    sink: &'a FileSink,
    split: usize,
    encoder: Option<Encoder>,
    written: WrittenPart,
    rows_in_file: usize,
}

impl PartWriter<'_> {
    /// Append a block.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let sequence = self.written.files.len();
        let (sink, split) = (self.sink, self.split);
        let encoder = match &mut self.encoder {
            Some(encoder) => encoder,
            None => self.encoder.insert(
                Encoder::new(sink.format, &sink.schema)
                    .map_err(|r| sink.failed(split, sequence, r))?,
            ),
        };
        encoder
            .write(batch)
            .map_err(|r| sink.failed(split, sequence, r))?;
        self.rows_in_file += batch.num_rows();
        self.written.rows += batch.num_rows();
        if self.rows_in_file >= ROWS_PER_FILE {
            self.flush()?;
        }
        Ok(())
    }

    /// Put the current file, if any rows went into it.
    fn flush(&mut self) -> Result<()> {
        let Some(encoder) = self.encoder.take() else {
            return Ok(());
        };
        let sequence = self.written.files.len();
        let file = self.sink.file(self.split, sequence);
        let bytes = encoder
            .finish()
            .map_err(|r| self.sink.failed(self.split, sequence, r))?;
        block_on(file.store.put(&file.path, PutPayload::from(bytes))).map_err(|source| {
            Error::Storage {
                url: file.url.to_string(),
                source,
            }
        })?;
        self.written.files.push(file.url.to_string());
        self.rows_in_file = 0;
        Ok(())
    }

    /// Put the last file and say what was written.
    pub fn finish(mut self) -> Result<WrittenPart> {
        self.flush()?;
        Ok(std::mem::take(&mut self.written))
    }
}

/// One file being encoded in memory.
enum Encoder {
    Parquet(parquet::arrow::ArrowWriter<Vec<u8>>),
    Csv(arrow_csv::Writer<Vec<u8>>),
    Json(arrow_json::LineDelimitedWriter<Vec<u8>>),
}

impl Encoder {
    fn new(format: WriteFormat, schema: &SchemaRef) -> Result<Self, String> {
        Ok(match format {
            WriteFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let writer = parquet::arrow::ArrowWriter::try_new(
                    Vec::new(),
                    Arc::clone(schema),
                    Some(props),
                )
                .map_err(|e| e.to_string())?;
                Encoder::Parquet(writer)
            }
            WriteFormat::Csv => {
                let mut writer = arrow_csv::WriterBuilder::new()
                    .with_header(true)
                    .build(Vec::new());
                // The header comes with the first batch; an empty file still gets one.
                writer
                    .write(&RecordBatch::new_empty(Arc::clone(schema)))
                    .map_err(|e| e.to_string())?;
                Encoder::Csv(writer)
            }
            WriteFormat::Json => Encoder::Json(arrow_json::LineDelimitedWriter::new(Vec::new())),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        match self {
            Encoder::Parquet(w) => w.write(batch).map_err(|e| e.to_string()),
            Encoder::Csv(w) => w.write(batch).map_err(|e| e.to_string()),
            Encoder::Json(w) => w.write(batch).map_err(|e| e.to_string()),
        }
    }

    fn finish(self) -> Result<Vec<u8>, String> {
        match self {
            Encoder::Parquet(w) => w.into_inner().map_err(|e| e.to_string()),
            Encoder::Csv(w) => Ok(w.into_inner()),
            Encoder::Json(mut w) => {
                w.finish().map_err(|e| e.to_string())?;
                Ok(w.into_inner())
            }
        }
    }
}
