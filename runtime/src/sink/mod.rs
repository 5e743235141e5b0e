//! Sinks: files under a directory URL. Each input split's output goes to its own files, written
//! by the worker that read the split: `part-00003-00000.parquet` for split 3 (then
//! `part-00003-00001.parquet`, ... as [`WriteOptions`] cut them), so names are deterministic and
//! sort in the output's order. A file is streamed to a hidden name and renamed (or put whole),
//! so no half-written file is ever visible. An empty output still writes `part-00000` with the
//! schema, so reading the directory gives an empty dataset, not a missing one. What happens to
//! files already in the directory, and the `_SUCCESS` marker written last: `commit.rs`.

mod cleanup;
mod commit;
mod encoder;
mod options;
mod output;
mod part;
mod partition;

use std::sync::Arc;

pub use commit::WriteMode;
pub use options::{ROWS_PER_FILE, WriteFormat, WriteOptions};
pub use part::PartWriter;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{Cause, Error, Result};
use crate::storage::{Location, resolve};
use part::FileWriter;

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

impl WrittenPart {
    /// A part that wrote `files` holding `rows` rows.
    pub(crate) fn new(files: Vec<String>, rows: usize) -> Self {
        Self { files, rows }
    }

    /// The files, in order.
    pub(crate) fn files(&self) -> &[String] {
        &self.files
    }

    /// Rows written.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }
}

/// Files of one format under one directory.
pub struct FileSink {
    directory: Location,
    /// Where the parts are written: the directory, or its staging directory (see `commit`).
    target: Location,
    format: WriteFormat,
    options: WriteOptions,
    /// The columns stored in the files (all but the partition columns).
    file_schema: SchemaRef,
    /// Indices of the stored columns in the incoming blocks.
    stored: Vec<usize>,
    /// Indices of the partition columns in the incoming blocks.
    partitions: Vec<usize>,
}

impl FileSink {
    /// A sink writing `schema`'s rows as `format` under `location`.
    pub fn new(location: &str, format: WriteFormat, schema: SchemaRef) -> Result<Self> {
        Self::with_options(location, format, schema, WriteOptions::default())
    }

    /// A sink cutting files as `options` say.
    pub fn with_options(
        location: &str,
        format: WriteFormat,
        schema: SchemaRef,
        options: WriteOptions,
    ) -> Result<Self> {
        let directory = resolve(location)?;
        let mut partitions = Vec::new();
        for name in &options.partition_by {
            let index = schema.index_of(name).map_err(|_| Error::Write {
                url: location.to_owned(),
                reason: format!("cannot partition by `{name}`: no such column").into(),
            })?;
            partitions.push(index);
        }
        let stored: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !partitions.contains(i))
            .collect();
        if stored.is_empty() {
            return Err(Error::Write {
                url: location.to_owned(),
                reason: "partitioning by every column leaves nothing to store".into(),
            });
        }
        let file_schema = Arc::new(schema.project(&stored)?);
        if format == WriteFormat::Csv
            && let Some(field) = file_schema
                .fields()
                .iter()
                .find(|f| f.data_type().is_nested() || !options::csv_holds(f.data_type()))
        {
            return Err(Error::Write {
                url: location.to_owned(),
                reason: format!(
                    "CSV cannot hold column `{}` ({}): write parquet or JSON lines, or drop the column first",
                    field.name(),
                    field.data_type()
                ).into(),
            });
        }
        let target = if options.mode.stages() {
            directory.child(commit::STAGING)
        } else {
            directory.clone()
        };
        Ok(Self {
            directory,
            target,
            format,
            options,
            file_schema,
            stored,
            partitions,
        })
    }

    /// The sink as `explain()` and `stats()` name it.
    pub fn describe(&self) -> String {
        let method = match self.format {
            WriteFormat::Parquet => "write_parquet",
            WriteFormat::Csv => "write_csv",
            WriteFormat::Json => "write_json",
            WriteFormat::Ipc => "write_ipc",
        };
        format!("{method}(\"{}\")", self.directory.url)
    }

    /// How files are cut and partitioned.
    pub fn options(&self) -> &WriteOptions {
        &self.options
    }

    /// The writer of split `split`'s files.
    pub fn part(&self, split: usize) -> PartWriter<'_> {
        PartWriter::new(self, split)
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
            summary.files.extend(FileWriter::write_empty(self)?);
        }
        Ok(summary)
    }

    fn file(&self, directory: &Location, split: usize, sequence: usize) -> Location {
        let extension = self.format.extension();
        // Split, then sequence within the split: names sort in the output's order.
        directory.child(&format!("part-{split:05}-{sequence:05}.{extension}"))
    }

    fn failed(&self, directory: &Location, sequence: usize, split: usize, reason: Cause) -> Error {
        Error::Write {
            url: self.file(directory, split, sequence).url.to_string(),
            reason,
        }
    }
}

impl crate::collect::Collector for FileSink {
    type Made = WrittenPart;

    fn describe(&self) -> String {
        FileSink::describe(self)
    }

    fn part(&self, split: usize) -> Box<dyn crate::collect::CollectPart<Made = WrittenPart> + '_> {
        Box::new(FileSink::part(self, split))
    }
}

impl crate::collect::CollectPart for PartWriter<'_> {
    type Made = WrittenPart;

    fn push(&mut self, batch: RecordBatch) -> Result<(), crate::collect::PartError> {
        Ok(self.write(&batch)?)
    }

    fn finish(self: Box<Self>) -> Result<WrittenPart> {
        PartWriter::finish(*self)
    }
}
