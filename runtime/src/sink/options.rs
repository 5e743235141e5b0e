//! What a sink writes (its format) and how its output is cut into files.

use arrow::datatypes::DataType;

use super::WriteMode;

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
    /// Arrow IPC files (Feather v2).
    Ipc,
}

impl WriteFormat {
    pub(super) fn extension(self) -> &'static str {
        match self {
            WriteFormat::Parquet => "parquet",
            WriteFormat::Csv => "csv",
            WriteFormat::Json => "json",
            WriteFormat::Ipc => "arrow",
        }
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
pub(super) fn csv_holds(data_type: &DataType) -> bool {
    !matches!(
        data_type,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}
