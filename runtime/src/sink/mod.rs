//! Sinks: files under a directory URL. Each input split's output goes to its own files, written
//! by the worker that read the split: `part-00003-00000.parquet` for split 3 (then
//! `part-00003-00001.parquet`, ... as [`WriteOptions`] cut them), so names are deterministic and
//! sort in the output's order. A file is streamed to a hidden name and renamed (or put whole),
//! so no half-written file is ever visible. An empty output still writes `part-00000` with the
//! schema, so reading the directory gives an empty dataset, not a missing one. What happens to
//! files already in the directory, and the `_SUCCESS` marker written last: `commit.rs`.

mod commit;

use std::sync::Arc;

use std::collections::BTreeMap;

pub use commit::WriteMode;

use arrow::array::{Array, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
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

/// How output is cut into files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// A new file starts after this many rows (default [`ROWS_PER_FILE`]).
    pub rows_per_file: usize,
    /// A new file starts once a file's encoded size reaches this many bytes.
    pub bytes_per_file: Option<usize>,
    /// Write each distinct value of these columns under its own `column=value/` directory
    /// (Hive style); the columns themselves are not stored in the files.
    pub partition_by: Vec<String>,
    /// What to do with a directory that already holds files.
    pub mode: WriteMode,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            rows_per_file: ROWS_PER_FILE,
            bytes_per_file: None,
            partition_by: Vec::new(),
            mode: WriteMode::default(),
        }
    }
}

/// Whether a CSV field can hold a value of this type (one scalar per field).
fn csv_holds(data_type: &DataType) -> bool {
    !matches!(
        data_type,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

/// The directory name of a null partition value (Hive's convention).
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

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
                reason: format!("cannot partition by `{name}`: no such column"),
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
                .find(|f| f.data_type().is_nested() || !csv_holds(f.data_type()))
        {
            return Err(Error::Write {
                url: location.to_owned(),
                reason: format!(
                    "CSV cannot hold column `{}` ({}): write parquet or JSON lines, or drop the column first",
                    field.name(),
                    field.data_type()
                ),
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
        };
        format!("{method}(\"{}\")", self.directory.url)
    }

    /// How files are cut and partitioned.
    pub fn options(&self) -> &WriteOptions {
        &self.options
    }

    /// Remove what uncommitted work left in the output directory: the files of splits not in
    /// `committed` (their run was cut short), and, locally, hidden files being written.
    pub(crate) fn remove_uncommitted(&self, committed: &dyn Fn(usize) -> bool) -> Result<()> {
        let extension = format!(".{}", self.format.extension());
        let uncommitted = |name: &str| {
            let in_progress = name.starts_with('.') && name.ends_with(".inprogress");
            let split = name
                .strip_prefix("part-")
                .filter(|_| name.ends_with(&extension))
                .and_then(|rest| rest.split('-').next())
                .and_then(|n| n.parse::<usize>().ok());
            in_progress || split.is_some_and(|s| !committed(s))
        };
        let failed = |url: String, e: String| Error::Write {
            url,
            reason: format!("cannot remove uncommitted output: {e}"),
        };
        let Some(root) = &self.target.local else {
            // Other stores put each file whole: only whole files of uncommitted splits remain.
            let directory = &self.target;
            let listed: Vec<_> =
                block_on(directory.store.list(Some(&directory.path)).try_collect())
                    .map_err(|e| failed(directory.url.to_string(), e.to_string()))?;
            for object in listed {
                if uncommitted(object.location.filename().unwrap_or_default()) {
                    block_on(directory.store.delete(&object.location))
                        .map_err(|e| failed(object.location.to_string(), e.to_string()))?;
                }
            }
            return Ok(());
        };
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if uncommitted(&entry.file_name().to_string_lossy()) {
                    std::fs::remove_file(&path)
                        .map_err(|e| failed(path.display().to_string(), e.to_string()))?;
                }
            }
        }
        Ok(())
    }

    /// The writer of split `split`'s files.
    pub fn part(&self, split: usize) -> PartWriter<'_> {
        PartWriter {
            sink: self,
            split,
            files: BTreeMap::new(),
            written: WrittenPart::default(),
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
            let mut empty = FileWriter::new(self.target.clone());
            empty.encoder = Some(
                Encoder::new(
                    self.format,
                    &self.file_schema,
                    &self.file(&empty.directory, 0, 0),
                )
                .map_err(|reason| self.failed(&empty.directory, empty.sequence, 0, reason))?,
            );
            summary.files.extend(empty.flush(self, 0)?);
        }
        Ok(summary)
    }

    fn file(&self, directory: &Location, split: usize, sequence: usize) -> Location {
        let extension = self.format.extension();
        // Split, then sequence within the split: names sort in the output's order.
        directory.child(&format!("part-{split:05}-{sequence:05}.{extension}"))
    }

    fn failed(&self, directory: &Location, sequence: usize, split: usize, reason: String) -> Error {
        Error::Write {
            url: self.file(directory, split, sequence).url.to_string(),
            reason,
        }
    }

    /// `batch` cut by partition: (directory below the sink's, rows), in first-seen order.
    fn partition(&self, batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
        if self.partitions.is_empty() {
            return Ok(vec![(String::new(), batch.project(&self.stored)?)]);
        }
        let keys: Vec<StringArray> = self
            .partitions
            .iter()
            .map(|&i| {
                Ok(cast(batch.column(i), &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone())
            })
            .collect::<Result<_>>()?;
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for row in 0..batch.num_rows() {
            let directory: Vec<String> = self
                .options
                .partition_by
                .iter()
                .zip(&keys)
                .map(|(name, values)| {
                    let value = if values.is_null(row) {
                        NULL_PARTITION
                    } else {
                        values.value(row)
                    };
                    format!("{name}={value}")
                })
                .collect();
            let directory = directory.join("/");
            let slot = *index.entry(directory.clone()).or_insert_with(|| {
                groups.push((directory, Vec::new()));
                groups.len() - 1
            });
            groups[slot].1.push(row as u32);
        }
        let stored = batch.project(&self.stored)?;
        groups
            .into_iter()
            .map(|(directory, rows)| {
                let rows = arrow::array::UInt32Array::from(rows);
                Ok((
                    directory,
                    arrow::compute::take_record_batch(&stored, &rows)?,
                ))
            })
            .collect()
    }
}

/// Writes one split's output, starting a new file as [`WriteOptions`] say.
pub struct PartWriter<'a> {
    sink: &'a FileSink,
    split: usize,
    /// One writer per partition directory ("" without partitions).
    files: BTreeMap<String, FileWriter>,
    written: WrittenPart,
}

impl PartWriter<'_> {
    /// Append a block.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (sink, split) = (self.sink, self.split);
        for (directory, rows) in sink.partition(batch)? {
            let writer = self.files.entry(directory.clone()).or_insert_with(|| {
                let mut location = sink.target.clone();
                for segment in directory.split('/').filter(|s| !s.is_empty()) {
                    location = location.child(segment);
                }
                FileWriter::new(location)
            });
            // A block may straddle files: cut it where the row limit falls.
            let mut rest = rows;
            while rest.num_rows() > 0 {
                let mut room = sink
                    .options
                    .rows_per_file
                    .saturating_sub(writer.rows_in_file)
                    .max(1);
                if let Some(limit) = sink.options.bytes_per_file {
                    // Rows that fit the byte target, estimated from what this file holds so
                    // far, or from the block's in-memory size for a new file.
                    let used = writer.encoder.as_ref().map_or(0, Encoder::size);
                    let per_row = match writer.rows_in_file {
                        0 => rest.get_array_memory_size() / rest.num_rows().max(1),
                        rows => used / rows,
                    };
                    room = room.min((limit.saturating_sub(used) / per_row.max(1)).max(1));
                }
                let now = rest.slice(0, room.min(rest.num_rows()));
                rest = rest.slice(now.num_rows(), rest.num_rows() - now.num_rows());
                if writer.encoder.is_none() {
                    writer.encoder = Some(
                        Encoder::new(
                            sink.format,
                            &sink.file_schema,
                            &sink.file(&writer.directory, split, writer.sequence),
                        )
                        .map_err(|r| sink.failed(&writer.directory, writer.sequence, split, r))?,
                    );
                }
                let encoder = writer.encoder.as_mut().expect("just made");
                encoder
                    .write(&now)
                    .map_err(|r| sink.failed(&writer.directory, writer.sequence, split, r))?;
                writer.rows_in_file += now.num_rows();
                self.written.rows += now.num_rows();
                let full = writer.rows_in_file >= sink.options.rows_per_file
                    || sink
                        .options
                        .bytes_per_file
                        .is_some_and(|limit| encoder.size() >= limit);
                if full {
                    self.written.files.extend(writer.flush(sink, split)?);
                }
            }
        }
        Ok(())
    }

    /// Put the last files and say what was written.
    pub fn finish(mut self) -> Result<WrittenPart> {
        for writer in self.files.values_mut() {
            self.written
                .files
                .extend(writer.flush(self.sink, self.split)?);
        }
        Ok(std::mem::take(&mut self.written))
    }
}

/// The file being written in one directory, and how many came before it.
struct FileWriter {
    directory: Location,
    encoder: Option<Encoder>,
    sequence: usize,
    rows_in_file: usize,
}

impl FileWriter {
    fn new(directory: Location) -> Self {
        FileWriter {
            directory,
            encoder: None,
            sequence: 0,
            rows_in_file: 0,
        }
    }

    /// Put the current file whole, if there is one; its URL.
    fn flush(&mut self, sink: &FileSink, split: usize) -> Result<Option<String>> {
        let Some(encoder) = self.encoder.take() else {
            return Ok(None);
        };
        let file = sink.file(&self.directory, split, self.sequence);
        let output = encoder
            .finish()
            .map_err(|r| sink.failed(&self.directory, self.sequence, split, r))?;
        match output {
            // A local file was written under a hidden temporary name: renaming it is atomic.
            Output::Local(temp) => temp
                .commit()
                .map_err(|r| sink.failed(&self.directory, self.sequence, split, r))?,
            Output::Memory(bytes) => {
                block_on(file.store.put(&file.path, PutPayload::from(bytes))).map_err(
                    |source| Error::Storage {
                        url: file.url.to_string(),
                        source,
                    },
                )?;
            }
        }
        self.sequence += 1;
        self.rows_in_file = 0;
        Ok(Some(file.url.to_string()))
    }
}

/// Where a file's bytes go while it is encoded: a hidden temporary file beside the final one
/// when the directory is local (streamed, then renamed), else memory (then put whole).
enum Output {
    Local(TempFile),
    Memory(Vec<u8>),
}

impl Output {
    fn open(file: &Location) -> Result<Self, String> {
        let Some(path) = &file.local else {
            return Ok(Output::Memory(Vec::new()));
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("part");
        let temp = path.with_file_name(format!(".{name}.inprogress"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let handle = std::fs::File::create(&temp).map_err(|e| e.to_string())?;
        Ok(Output::Local(TempFile {
            file: Some(std::io::BufWriter::with_capacity(1 << 20, handle)),
            temp,
            path: path.clone(),
        }))
    }
}

impl std::io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Local(temp) => temp.file.as_mut().expect("open until committed").write(buf),
            Output::Memory(bytes) => bytes.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Local(temp) => temp.file.as_mut().expect("open until committed").flush(),
            Output::Memory(_) => Ok(()),
        }
    }
}

/// A file written under a temporary name; removed unless committed.
struct TempFile {
    file: Option<std::io::BufWriter<std::fs::File>>,
    temp: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl TempFile {
    /// Flush and give the file its final name.
    fn commit(mut self) -> Result<(), String> {
        let file = self.file.take().expect("committed once");
        file.into_inner().map_err(|e| e.to_string())?;
        std::fs::rename(&self.temp, &self.path).map_err(|e| e.to_string())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// One file being encoded.
enum Encoder {
    Parquet(Box<parquet::arrow::ArrowWriter<Output>>),
    /// CSV so far; the header goes in with the first rows (or alone, for an empty file).
    Csv {
        out: Output,
        bytes: usize,
        schema: SchemaRef,
        header: bool,
    },
    Json {
        out: Output,
        bytes: usize,
    },
}

impl Encoder {
    fn new(format: WriteFormat, schema: &SchemaRef, file: &Location) -> Result<Self, String> {
        let out = Output::open(file)?;
        Ok(match format {
            WriteFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let writer =
                    parquet::arrow::ArrowWriter::try_new(out, Arc::clone(schema), Some(props))
                        .map_err(|e| e.to_string())?;
                Encoder::Parquet(Box::new(writer))
            }
            WriteFormat::Csv => Encoder::Csv {
                out,
                bytes: 0,
                schema: Arc::clone(schema),
                header: false,
            },
            WriteFormat::Json => Encoder::Json { out, bytes: 0 },
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let mut text = Vec::new();
        match self {
            Encoder::Parquet(w) => return w.write(batch).map_err(|e| e.to_string()),
            Encoder::Csv { header, .. } => {
                let mut writer = arrow_csv::WriterBuilder::new()
                    .with_header(!*header)
                    .build(&mut text);
                *header = true;
                writer.write(batch).map_err(|e| e.to_string())?;
            }
            Encoder::Json { .. } => {
                let mut writer = arrow_json::LineDelimitedWriter::new(&mut text);
                writer.write(batch).map_err(|e| e.to_string())?;
                writer.finish().map_err(|e| e.to_string())?;
            }
        }
        let (Encoder::Csv { out, bytes, .. } | Encoder::Json { out, bytes }) = self else {
            unreachable!("parquet returned above")
        };
        *bytes += text.len();
        std::io::Write::write_all(out, &text).map_err(|e| e.to_string())
    }

    /// Bytes encoded so far (for parquet, including the row group being built).
    fn size(&self) -> usize {
        match self {
            Encoder::Parquet(w) => w.bytes_written() + w.in_progress_size(),
            Encoder::Csv { bytes, .. } | Encoder::Json { bytes, .. } => *bytes,
        }
    }

    fn finish(mut self) -> Result<Output, String> {
        if let Encoder::Csv {
            header: false,
            schema,
            ..
        } = &self
        {
            let empty = RecordBatch::new_empty(Arc::clone(schema));
            self.write(&empty)?;
        }
        match self {
            Encoder::Parquet(w) => w.into_inner().map_err(|e| e.to_string()),
            Encoder::Csv { out, .. } | Encoder::Json { out, .. } => Ok(out),
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
