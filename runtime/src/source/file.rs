//! File sources: list the files a location names, then read each as one split.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::StreamExt;
use object_store::ObjectStoreExt;

use super::{Predicate, Source, Split};
use crate::error::{Error, Result};
use crate::io_runtime::block_on;
use crate::storage::{KeepDirectory, Location, list_files_where};
use crate::sync::Recover;

/// Options of `read_csv`.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field delimiter (default `,`).
    pub delimiter: u8,
    /// Whether the first line names the columns (default true). Without a header, columns are
    /// taken in the record's declaration order.
    pub header: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            header: true,
        }
    }
}

/// The format of a file source.
#[derive(Debug, Clone)]
pub enum FileFormat {
    /// Apache Parquet; only the declared columns are read.
    Parquet,
    /// Comma-separated values.
    Csv(CsvOptions),
    /// JSON lines: one object per line.
    Json,
    /// Text: one row per line, in column `text`.
    Text,
    /// Arrow IPC files (Feather v2); only the declared columns are decoded.
    Ipc,
}

impl FileFormat {
    fn name(&self) -> &'static str {
        match self {
            FileFormat::Parquet => "read_parquet",
            FileFormat::Csv(_) => "read_csv",
            FileFormat::Json => "read_json",
            FileFormat::Text => "read_text",
            FileFormat::Ipc => "read_ipc",
        }
    }
}

/// Rows per block read from a file.
pub const DEFAULT_BLOCK_ROWS: usize = 8192;

/// Files in one format at a location, read as the columns `schema` declares.
pub struct FileSource {
    location: String,
    format: FileFormat,
    record: &'static str,
    /// The declared columns the pipeline uses (projection pushdown happened at compile time).
    schema: SchemaRef,
    include_paths: bool,
    predicates: Vec<Predicate>,
    /// Read the files in an order shuffled with this seed.
    shuffle: Option<u64>,
    /// String columns read as dictionaries (parquet only).
    dictionary: Vec<String>,
    /// Refuse a location without the `_SUCCESS` marker of a finished write.
    require_success: bool,
    /// What the last listed run fetches from a remote store.
    fetched: std::sync::Mutex<Option<Arc<crate::stats::FetchCounter>>>,
}

impl FileSource {
    /// A source reading `schema`'s columns of record `record` from `location`.
    pub fn new(
        location: impl Into<String>,
        format: FileFormat,
        record: &'static str,
        schema: SchemaRef,
        include_paths: bool,
    ) -> Self {
        Self {
            location: location.into(),
            format,
            record,
            schema,
            include_paths,
            predicates: Vec::new(),
            shuffle: None,
            dictionary: Vec::new(),
            require_success: false,
            fetched: Default::default(),
        }
    }

    /// Refuse to read a directory that has no `_SUCCESS` marker (`require_success = true`):
    /// the write that made it did not finish, or has not yet.
    pub fn with_required_success(mut self, required: bool) -> Self {
        self.require_success = required;
        self
    }

    /// Read these string columns of parquet files as `Dictionary(Int32, Utf8)`: the file's
    /// dictionary pages and keys are handed over instead of one string per row. The compiler
    /// asks for it for group keys that go straight into an aggregate, which then finds the
    /// group once per dictionary value instead of hashing every row's string.
    pub fn with_dictionary(mut self, columns: &[&str]) -> Self {
        if matches!(self.format, FileFormat::Parquet) {
            self.dictionary = columns.iter().map(|c| c.to_string()).collect();
        }
        self
    }

    /// The files at the location, listing retried on transient failures.
    fn list(&self, options: &crate::options::ExecOptions) -> Result<Vec<Location>> {
        if self.require_success {
            options.retry.run(&self.location, || {
                crate::storage::check_success(&self.location)
            })?;
        }
        // Partition directories a pushed filter rules out are not listed.
        let may_pass = |name: &str| super::partitions::may_pass(&self.predicates, name);
        let keep = (!self.predicates.is_empty()).then_some(&may_pass as KeepDirectory);
        options
            .retry
            .run(&self.location, || list_files_where(&self.location, keep))
    }

    /// Read the files in a random order, the same for the same `seed` and listing
    /// (`shuffle = files`).
    pub fn with_file_shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// Skip parquet row groups whose statistics rule out every row (see `predicate.rs`).
    pub fn with_predicates(mut self, predicates: Vec<Predicate>) -> Self {
        self.predicates = predicates;
        self
    }
}

impl Source for FileSource {
    fn describe(&self) -> String {
        let columns: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let predicates: Vec<String> = self.predicates.iter().map(|p| p.to_string()).collect();
        format!(
            "{}(\"{}\") as {} columns=[{}]{}{}{}{}",
            self.format.name(),
            self.location,
            self.record,
            columns.join(", "),
            if self.include_paths { " +path" } else { "" },
            if self.shuffle.is_some() {
                " shuffle=files"
            } else {
                ""
            },
            if self.dictionary.is_empty() {
                String::new()
            } else {
                format!(" dictionary=[{}]", self.dictionary.join(", "))
            },
            if predicates.is_empty() {
                String::new()
            } else {
                format!(" skip row groups unless {}", predicates.join(" && "))
            }
        )
    }

    fn fetched(&self) -> Option<Arc<crate::stats::FetchCounter>> {
        self.fetched.lock().recover().clone()
    }

    fn listing(&self, options: &crate::options::ExecOptions) -> Result<Vec<String>> {
        Ok(self
            .list(options)?
            .iter()
            .map(|f| f.url.to_string())
            .collect())
    }

    fn splits(&self, options: &crate::options::ExecOptions) -> Result<Vec<Box<dyn Split>>> {
        let config = Arc::new(FileConfig {
            format: self.format.clone(),
            record: self.record,
            schema: super::parquet::dictionary_schema(&self.schema, &self.dictionary),
            include_paths: self.include_paths,
            predicates: self.predicates.clone(),
        });
        let mut files = self.list(options)?;
        let fetched = files.first().and_then(|f| f.fetched.clone());
        if let Some(counter) = &fetched {
            counter.set_object_bytes(files.iter().filter_map(|f| f.size).sum());
        }
        *self.fetched.lock().recover() = fetched;
        if let Some(seed) = self.shuffle {
            let mut rng = <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(seed);
            rand::seq::SliceRandom::shuffle(files.as_mut_slice(), &mut rng);
        }
        // A few large parquet files are cut by row groups, so that every worker has work; with
        // many files, reading every footer here would delay the first block for nothing.
        let cut_parquet =
            matches!(self.format, FileFormat::Parquet) && files.len() < CUT_FILES_BELOW;
        let split_bytes = options.split_bytes.max(1) as u64;
        let mut splits: Vec<Box<dyn Split>> = Vec::with_capacity(files.len());
        let base = crate::storage::split_glob(&self.location)
            .0
            .trim_end_matches('/')
            .to_owned();
        let mut planner = super::partitions::Planner::new(&config);
        for location in files {
            let relative = location.url.strip_prefix(base.as_str()).unwrap_or_default();
            let Some((config, partitioned)) = planner.plan(&location.url, relative)? else {
                // A pushed filter rules out the file's partition: it is not read.
                continue;
            };
            // Local listings leave sizes out; only line-oriented files need one here.
            let size = match (&self.format, location.size, &location.local) {
                (FileFormat::Csv(_) | FileFormat::Json | FileFormat::Text, None, Some(path)) => {
                    std::fs::metadata(path).ok().map(|m| m.len())
                }
                _ => location.size,
            };
            let parts: Vec<Part> = match (&self.format, size) {
                (FileFormat::Parquet, _) if cut_parquet => {
                    match super::parquet::row_group_ranges(&location)? {
                        Some(ranges) => ranges.into_iter().map(Part::RowGroups).collect(),
                        None => vec![Part::Whole],
                    }
                }
                // CSV is cut where records start, which a quoted newline can move.
                (FileFormat::Csv(options), Some(size)) if size > split_bytes => {
                    match super::csv_ranges::record_ranges(
                        &location,
                        size,
                        split_bytes,
                        options.delimiter,
                    )? {
                        Some(ranges) => ranges.into_iter().map(Part::Bytes).collect(),
                        None => vec![Part::Whole],
                    }
                }
                // Other line-oriented formats are cut into byte ranges at line boundaries.
                (FileFormat::Json | FileFormat::Text, Some(size)) if size > split_bytes => (0
                    ..size.div_ceil(split_bytes))
                    .map(|i| Part::Bytes(i * split_bytes..((i + 1) * split_bytes).min(size)))
                    .collect(),
                _ => vec![Part::Whole],
            };
            splits.extend(parts.into_iter().map(|part| {
                Box::new(FileSplit {
                    location: location.clone(),
                    config: config.clone(),
                    partitioned: partitioned.clone(),
                    part,
                }) as Box<dyn Split>
            }));
        }
        Ok(splits)
    }
}

/// The part of a file one split reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Whole,
    /// Parquet row groups.
    RowGroups(std::ops::Range<usize>),
    /// The lines that start in this byte range.
    Bytes(std::ops::Range<u64>),
}

/// Parquet sources with fewer files than this are cut into row-group splits.
const CUT_FILES_BELOW: usize = 16;

/// What every split of one file source shares.
pub(super) struct FileConfig {
    pub format: FileFormat,
    pub record: &'static str,
    pub schema: SchemaRef,
    pub include_paths: bool,
    pub predicates: Vec<Predicate>,
}

struct FileSplit {
    location: Location,
    config: Arc<FileConfig>,
    /// The partition columns its path holds (then not read from the file).
    partitioned: Option<Arc<super::partitions::Partitioned>>,
    part: Part,
}

impl Split for FileSplit {
    fn name(&self) -> Arc<str> {
        match &self.part {
            Part::Whole => self.location.url.clone(),
            Part::RowGroups(r) => {
                format!("{}, row groups {}..{}", self.location.url, r.start, r.end).into()
            }
            Part::Bytes(r) => format!("{}, bytes {}..{}", self.location.url, r.start, r.end).into(),
        }
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let config = &self.config;
        let url = &self.location.url;
        let mut emit_with_path = |batch: RecordBatch| -> Result<bool> {
            let batch = match &self.partitioned {
                Some(partitioned) => partitioned.fill(batch)?,
                None => batch,
            };
            if config.include_paths {
                emit(with_path_column(batch, url)?)
            } else {
                emit(batch)
            }
        };
        let row_groups = match &self.part {
            Part::RowGroups(range) => Some(range.clone()),
            _ => None,
        };
        let bytes = match &self.part {
            Part::Bytes(range) => Some(range.clone()),
            _ => None,
        };
        let lines = || super::lines::open(&self.location, bytes.clone());
        super::guarded(url, &mut emit_with_path, |emit| match &config.format {
            FileFormat::Parquet => {
                super::parquet::read(&self.location, row_groups.clone(), config, emit)
            }
            FileFormat::Csv(options) => {
                super::csv::read(&self.location, lines()?, options, config, emit)
            }
            FileFormat::Json => super::json::read(&self.location, &lines, config, emit),
            FileFormat::Text => super::text::read(&self.location, lines()?, emit),
            FileFormat::Ipc => super::ipc::read(&self.location, config, emit),
        })
    }
}

/// A streaming reader over the object: a local file is read directly, anything else chunk by
/// chunk from the store, so a file never has to fit in memory.
pub(super) fn open(location: &Location) -> Result<Box<dyn BufRead + Send>> {
    if let Some(path) = &location.local {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            url: location.url.to_string(),
            source,
        })?;
        let size = file.metadata().ok().map(|m| m.len());
        return Ok(buffered(file, size));
    }
    let result = block_on(location.store.get(&location.path)).map_err(|source| Error::Storage {
        url: location.url.to_string(),
        source,
    })?;
    let size = Some(result.meta.size);
    let chunks = ObjectChunks::new(result.into_stream());
    Ok(buffered(chunks, size))
}

/// A buffered reader of `bytes` bytes (if known): 1 MiB of buffer, or less for less data. A
/// buffer is zeroed once and its pages touched: 1 MiB for a small file or a short CSV range
/// cost more than reading it.
pub(super) fn buffered(
    reader: impl Read + Send + 'static,
    bytes: Option<u64>,
) -> Box<dyn BufRead + Send> {
    let capacity = match bytes {
        Some(bytes) => (bytes.saturating_add(1)).clamp(4 << 10, 1 << 20) as usize,
        None => 1 << 20,
    };
    Box::new(BufReader::with_capacity(capacity, reader))
}

/// `Read` over an object's byte stream, pulling one chunk at a time on the IO runtime.
pub(super) struct ObjectChunks {
    stream: futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
    current: Bytes,
}

impl ObjectChunks {
    pub(super) fn new(
        stream: futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
    ) -> Self {
        ObjectChunks {
            stream,
            current: Bytes::new(),
        }
    }
}

impl Read for ObjectChunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match block_on(self.stream.next()) {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

fn with_path_column(batch: RecordBatch, url: &str) -> Result<RecordBatch> {
    let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new("path", DataType::Utf8, false)));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![url; batch.num_rows()])));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
