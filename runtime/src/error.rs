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
    InvalidLocation {
        /// The file, directory or object, as given or listed.
        url: String,
        /// Why; when another library's error caused it, that error, kept whole.
        #[source]
        reason: Cause,
    },

    /// A source that matched no file (missing file, empty directory, glob without matches).
    #[error("no input files found at `{url}`{}", if .reason.is_empty() { String::new() } else { format!(": {}", .reason) })]
    NoInput {
        /// The file, directory or object, as given or listed.
        url: String,
        /// Why, in words.
        reason: String,
    },

    /// Reading or writing through object_store failed.
    #[error("cannot access `{url}`: {}", storage_reason(url, source))]
    Storage {
        /// The file, directory or object, as given or listed.
        url: String,
        /// The error underneath.
        #[source]
        source: object_store::Error,
    },

    /// Reading a local file failed.
    #[error("cannot read `{url}`: {source}")]
    Io {
        /// The file, directory or object, as given or listed.
        url: String,
        /// The error underneath.
        #[source]
        source: std::io::Error,
    },

    /// A file is not valid for its format (not parquet, truncated, bad JSON, ...).
    #[error("cannot read `{url}`: {reason}")]
    Corrupt {
        /// The file, directory or object, as given or listed.
        url: String,
        /// Why; when another library's error caused it, that error, kept whole.
        #[source]
        reason: Cause,
    },

    /// A parquet file that cannot be read: damaged, not parquet, or using what the reader does
    /// not support.
    #[error("cannot read `{url}`: not a readable parquet file: {source}")]
    Parquet {
        /// The file, directory or object, as given or listed.
        url: String,
        /// The error underneath.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// A file's schema does not match the declared record.
    #[error("`{url}` does not match record `{record}`: {reason}")]
    SchemaMismatch {
        /// The file, directory or object, as given or listed.
        url: String,
        /// The record the pipeline declares.
        record: String,
        /// Why, in words.
        reason: String,
    },

    /// A file's content does not have the declared shape (an image of another size).
    #[error("`{url}`: {reason}")]
    Shape {
        /// The file, directory or object, as given or listed.
        url: String,
        /// Why, in words.
        reason: String,
    },

    /// A value could not be parsed as its column's declared type.
    #[error("`{url}`, {location}: {reason}")]
    Parse {
        /// The file, directory or object, as given or listed.
        url: String,
        /// Where in the file: the line and column, or the block.
        location: String,
        /// Why, in words.
        reason: String,
    },

    /// A block's columns do not match what a stage expects.
    #[error("stage `{stage}` at {block}: {reason}")]
    Block {
        /// The stage, as `explain()` names it.
        stage: String,
        /// The input split and the block within it.
        block: BlockId,
        /// Why, in words.
        reason: String,
    },

    /// A user function panicked.
    #[error("stage `{stage}` panicked at {block}: {message}")]
    Panic {
        /// The stage, as `explain()` names it.
        stage: String,
        /// The input split and the block within it.
        block: BlockId,
        /// What the panic said.
        message: String,
    },

    /// A user function returned an error.
    #[error("stage `{stage}` failed at {block}: {source}")]
    User {
        /// The stage, as `explain()` names it.
        stage: String,
        /// The input split and the block within it.
        block: BlockId,
        /// The error underneath.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Writing an output file failed.
    #[error("cannot write `{url}`: {reason}")]
    Write {
        /// The file, directory or object, as given or listed.
        url: String,
        /// Why; when another library's error caused it, that error, kept whole.
        #[source]
        reason: Cause,
    },

    /// A stage asks for resources the machine does not have.
    #[error("stage `{stage}`: {reason}")]
    Resources {
        /// The stage, as `explain()` names it.
        stage: String,
        /// Why, in words.
        reason: String,
    },

    /// A job checkpoint cannot be used.
    #[error("checkpoint `{location}`: {reason}")]
    Checkpoint {
        /// The checkpoint's location.
        location: String,
        /// Why; when another library's error caused it, that error, kept whole.
        #[source]
        reason: Cause,
    },

    /// Spilling to local disk, or reading a spill back, failed.
    #[error("cannot spill to `{path}`: {reason}")]
    Spill {
        /// The spill directory or file.
        path: String,
        /// Why; when another library's error caused it, that error, kept whole.
        #[source]
        reason: Cause,
    },

    /// An all-to-all operator's input does not fit what it needs (zip of unequal lengths, ...).
    #[error("`{stage}`: {reason}")]
    Exchange {
        /// The stage, as `explain()` names it.
        stage: String,
        /// Why; when another library's error caused it, that error, kept whole.
        #[source]
        reason: Cause,
    },

    /// The worker threads of a run could not be started.
    #[error("cannot start {threads} worker thread(s): {source}")]
    Threads {
        /// How many were asked for.
        threads: usize,
        /// The error underneath.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },

    /// An Arrow kernel failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Why reading, writing, spilling or an exchange failed: the library error it came from, kept
/// whole so a caller can match it or find it in the `source()` chain, or a message where
/// aqueduct itself found the problem. It reads exactly as what it holds, and its `source()` is
/// that error ([`Error::report`] leaves out a cause whose text the message already holds).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// What aqueduct found wrong, said in words.
    #[error("{0}")]
    Message(String),
    /// A system IO error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An Arrow error (a kernel, a decoder, an IPC file).
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A parquet reader's or writer's error.
    #[error("{0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// An object store's error.
    #[error("{0}")]
    Storage(#[from] object_store::Error),
    /// A JSON error.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A glob pattern that does not parse.
    #[error("bad glob: {0}")]
    Glob(#[from] glob::PatternError),
    /// Another library's error.
    #[error("{0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A cause and what was being done when it happened.
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// The error underneath.
        #[source]
        source: Box<Cause>,
    },
}

impl Cause {
    /// This cause, said to have happened while doing `context`.
    pub fn context(self, context: impl Into<String>) -> Cause {
        Cause::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Self {
        Cause::Message(message)
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Self {
        Cause::Message(message.to_owned())
    }
}

/// Why a stage function failed on one block (the executor adds the stage and block).
#[derive(Debug)]
pub enum StageError {
    /// The block's columns do not fit the stage (a bug upstream or a schema drift).
    Columns(String),
    /// A user function returned an error.
    User(Box<dyn std::error::Error + Send + Sync>),
}

impl From<String> for StageError {
    fn from(message: String) -> Self {
        StageError::Columns(message)
    }
}

impl StageError {
    /// The error of stage `stage` on block `block`.
    pub(crate) fn at(self, stage: String, block: &BlockId) -> Error {
        match self {
            StageError::Columns(reason) => Error::Block {
                stage,
                block: block.clone(),
                reason,
            },
            StageError::User(source) => Error::User {
                stage,
                block: block.clone(),
                source,
            },
        }
    }
}

/// Run stage `stage`'s work `f` on block `block`: a panic in it (user code, or a decoder on
/// bad data) becomes an error naming the stage and the block, like the errors `into_error`
/// makes of what it returns.
pub(crate) fn guard_stage<T, E>(
    stage: impl Fn() -> String,
    block: &BlockId,
    f: impl FnOnce() -> std::result::Result<T, E>,
    into_error: impl FnOnce(E, String, &BlockId) -> Error,
) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(into_error(error, stage(), block)),
        Err(panic) => Err(Error::Panic {
            stage: stage(),
            block: block.clone(),
            message: panic_message(&panic),
        }),
    }
}

/// The message of a caught panic (what `panic!` was given, when it was text).
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
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

/// What a storage error says: a refusal in words of the bucket, without the server's raw
/// answer (an XML body); anything else as object_store says it.
fn storage_reason(url: &str, source: &object_store::Error) -> String {
    // object_store types a refused GET, HEAD or PUT, but not a refused listing, which comes
    // as a generic error carrying the status in its text (the type under it is private).
    let refused = match source {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => true,
        object_store::Error::Generic { .. } => {
            let text = source.to_string();
            text.contains("status code: 403") || text.contains("status code: 401")
        }
        _ => false,
    };
    match source {
        _ if refused => {
            let bucket = url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(|h| format!(" to bucket `{h}`")))
                .unwrap_or_default();
            format!(
                "access denied{bucket}: the server refused the credentials or this request \
                 (check the access key and secret — AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY \
                 or `--store-option` — and what the key may do in the bucket)"
            )
        }
        other => other.to_string(),
    }
}
