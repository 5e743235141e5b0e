//! The runtime's error type: every variant carries what a user needs to act on it.

use std::sync::Arc;

/// Where a block came from: the input split (a file, or a part of an in-memory dataset) and the
/// block's position within it. Errors carry it so a user can find the offending data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockId {
    /// The input split: a file URL or `items[3]`-style name for in-memory data.
    pub split: Arc<str>,
    /// Index of the block within the split.
    pub block: usize,
}

impl std::fmt::Display for BlockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, block {}", self.split, self.block)
    }
}

/// Everything that can go wrong while running a pipeline.
///
/// Its `Debug` form is the readable [`Error::report`], so that `fn main() ->
/// aqueduct::Result<()>` prints the message and its causes, not the variant's fields.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A source URL or path that could not be parsed or opened.
    #[error("invalid location `{url}`: {reason}")]
    InvalidLocation { url: String, reason: String },

    /// A source that matched no file (missing file, empty directory, glob without matches).
    #[error("no input files found at `{url}`{}", if .reason.is_empty() { String::new() } else { format!(": {}", .reason) })]
    NoInput { url: String, reason: String },

    /// Reading or writing through object_store failed.
    #[error("cannot access `{url}`: {source}")]
    Storage {
        url: String,
        #[source]
        source: object_store::Error,
    },

    /// Reading a local file failed.
    #[error("cannot read `{url}`: {source}")]
    Io {
        url: String,
        #[source]
        source: std::io::Error,
    },

    /// A file is not valid for its format (not parquet, truncated, bad JSON, ...).
    #[error("cannot read `{url}`: {reason}")]
    Corrupt { url: String, reason: String },

    /// A file's schema does not match the declared record.
    #[error("`{url}` does not match record `{record}`: {reason}")]
    SchemaMismatch {
        url: String,
        record: String,
        reason: String,
    },

    /// A file's content does not have the declared shape (an image of another size).
    #[error("`{url}`: {reason}")]
    Shape { url: String, reason: String },

    /// A value could not be parsed as its column's declared type.
    #[error("`{url}`, {location}: {reason}")]
    Parse {
        url: String,
        location: String,
        reason: String,
    },

    /// A block's columns do not match what a stage expects.
    #[error("stage `{stage}` at {block}: {reason}")]
    Block {
        stage: String,
        block: BlockId,
        reason: String,
    },

    /// A user function panicked.
    #[error("stage `{stage}` panicked at {block}: {message}")]
    Panic {
        stage: String,
        block: BlockId,
        message: String,
    },

    /// A user function returned an error.
    #[error("stage `{stage}` failed at {block}: {source}")]
    User {
        stage: String,
        block: BlockId,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Writing an output file failed.
    #[error("cannot write `{url}`: {reason}")]
    Write { url: String, reason: String },

    /// A stage asks for resources the machine does not have.
    #[error("stage `{stage}`: {reason}")]
    Resources { stage: String, reason: String },

    /// A job checkpoint cannot be used.
    #[error("checkpoint `{location}`: {reason}")]
    Checkpoint { location: String, reason: String },

    /// Spilling to local disk, or reading a spill back, failed.
    #[error("cannot spill to `{path}`: {reason}")]
    Spill { path: String, reason: String },

    /// An all-to-all operator's input does not fit what it needs (zip of unequal lengths, ...).
    #[error("`{stage}`: {reason}")]
    Exchange { stage: String, reason: String },

    /// An Arrow kernel failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The message and, line by line, the causes it does not already spell out.
    pub fn report(&self) -> String {
        let mut report = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(inner) = cause {
            let text = inner.to_string();
            if !report.contains(&text) {
                report.push_str("\n  caused by: ");
                report.push_str(&text);
            }
            cause = inner.source();
        }
        report
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.report())
    }
}
