//! Encoding one file: parquet (snappy), CSV with a header, JSON lines.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::WriteFormat;
use super::output::Output;
use crate::error::Cause;
use crate::storage::Location;

/// One file being encoded.
pub(super) enum Encoder {
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
    pub(super) fn new(
        format: WriteFormat,
        schema: &SchemaRef,
        file: &Location,
    ) -> Result<Self, Cause> {
        let out = Output::open(file)?;
        Ok(match format {
            WriteFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let writer =
                    parquet::arrow::ArrowWriter::try_new(out, Arc::clone(schema), Some(props))?;
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

    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<(), Cause> {
        let mut text = Vec::new();
        match self {
            Encoder::Parquet(w) => return Ok(w.write(batch)?),
            Encoder::Csv { header, .. } => {
                let mut writer = arrow_csv::WriterBuilder::new()
                    .with_header(!*header)
                    .build(&mut text);
                *header = true;
                writer.write(batch)?;
            }
            Encoder::Json { .. } => {
                let mut writer = arrow_json::LineDelimitedWriter::new(&mut text);
                writer.write(batch)?;
                writer.finish()?;
            }
        }
        let (Encoder::Csv { out, bytes, .. } | Encoder::Json { out, bytes }) = self else {
            unreachable!("parquet returned above")
        };
        *bytes += text.len();
        Ok(std::io::Write::write_all(out, &text)?)
    }

    /// Bytes encoded so far (for parquet, including the row group being built).
    pub(super) fn size(&self) -> usize {
        match self {
            Encoder::Parquet(w) => w.bytes_written() + w.in_progress_size(),
            Encoder::Csv { bytes, .. } | Encoder::Json { bytes, .. } => *bytes,
        }
    }

    pub(super) fn finish(mut self) -> Result<Output, Cause> {
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
            Encoder::Parquet(w) => Ok(w.into_inner()?),
            Encoder::Csv { out, .. } | Encoder::Json { out, .. } => Ok(out),
        }
    }
}
