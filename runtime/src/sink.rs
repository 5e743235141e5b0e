//! Sinks: write a dataset's blocks, in order, into files under a directory URL. File names are
//! deterministic (`part-00000.parquet`, ...), a new file starts every `ROWS_PER_FILE` rows, and
//! each file is encoded in memory and then put whole, so no half-written file is ever visible.

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

/// Write `blocks` into files under `location`.
pub fn write(
    blocks: impl Iterator<Item = Result<RecordBatch>>,
    schema: &SchemaRef,
    location: &str,
    format: WriteFormat,
) -> Result<WriteSummary> {
    let directory = resolve(location)?;
    let mut summary = WriteSummary {
        files: Vec::new(),
        rows: 0,
    };
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    for block in blocks {
        let block = block?;
        pending_rows += block.num_rows();
        summary.rows += block.num_rows();
        pending.push(block);
        if pending_rows >= ROWS_PER_FILE {
            flush(&directory, schema, format, &mut pending, &mut summary)?;
            pending_rows = 0;
        }
    }
    if pending_rows > 0 || summary.files.is_empty() {
        flush(&directory, schema, format, &mut pending, &mut summary)?;
    }
    Ok(summary)
}

fn flush(
    directory: &Location,
    schema: &SchemaRef,
    format: WriteFormat,
    blocks: &mut Vec<RecordBatch>,
    summary: &mut WriteSummary,
) -> Result<()> {
    let file = directory.child(&format!(
        "part-{:05}.{}",
        summary.files.len(),
        format.extension()
    ));
    let failed = |reason: String| Error::Write {
        url: file.url.to_string(),
        reason,
    };
    let bytes = encode(schema, format, blocks).map_err(failed)?;
    blocks.clear();
    block_on(file.store.put(&file.path, PutPayload::from(bytes))).map_err(|source| {
        Error::Storage {
            url: file.url.to_string(),
            source,
        }
    })?;
    summary.files.push(file.url.to_string());
    Ok(())
}

fn encode(
    schema: &SchemaRef,
    format: WriteFormat,
    blocks: &[RecordBatch],
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match format {
        WriteFormat::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut out, Arc::clone(schema), Some(props))
                    .map_err(|e| e.to_string())?;
            for block in blocks {
                writer.write(block).map_err(|e| e.to_string())?;
            }
            writer.close().map_err(|e| e.to_string())?;
        }
        WriteFormat::Csv => {
            let mut writer = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for block in blocks {
                writer.write(block).map_err(|e| e.to_string())?;
            }
        }
        WriteFormat::Json => {
            let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
            for block in blocks {
                writer.write(block).map_err(|e| e.to_string())?;
            }
            writer.finish().map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}
