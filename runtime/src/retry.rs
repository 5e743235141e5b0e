//! Retries of transient failures with exponential backoff and jitter, and the errored-block
//! budget: what is retried, how often, and which failures may be skipped and counted.

use std::time::Duration;

use serde::Serialize;

use crate::error::Error;

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts after the first (default 3).
    pub retries: u32,
    /// The first wait (default 50 ms); each retry waits up to twice as long as the last.
    pub base_delay: Duration,
    /// The longest wait (default 2 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `attempt` (1, 2, ...): exponential, with full jitter so that
    /// workers failing together do not retry together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let jitter = {
            use std::hash::BuildHasher;
            let state = std::hash::RandomState::new();
            (state.hash_one((attempt, std::thread::current().id())) % 1000) as f64 / 1000.0
        };
        ceiling.mul_f64(0.5 + jitter / 2.0)
    }

    /// Run `attempt` until it succeeds, fails with an error that is not transient, or the
    /// retries are spent.
    pub fn run<T>(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut tries = 0;
        loop {
            match attempt() {
                Err(error) if error.is_transient() && tries < self.retries => {
                    tries += 1;
                    let wait = self.delay(tries);
                    tracing::warn!(%what, %error, attempt = tries, wait_ms = wait.as_millis() as u64, "retrying a transient failure");
                    std::thread::sleep(wait);
                }
                other => return other,
            }
        }
    }
}

impl Error {
    /// Whether the failure may go away if tried again: network and storage service errors,
    /// interrupted or timed-out IO. Missing files, bad data, wrong schemas and user errors are
    /// not.
    pub fn is_transient(&self) -> bool {
        use std::io::ErrorKind::*;
        match self {
            Error::Storage { source, .. } => !matches!(
                source,
                object_store::Error::NotFound { .. }
                    | object_store::Error::InvalidPath { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. }
                    | object_store::Error::NotImplemented { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::UnknownConfigurationKey { .. }
            ),
            Error::Io { source, .. } => matches!(
                source.kind(),
                Interrupted
                    | TimedOut
                    | WouldBlock
                    | ConnectionReset
                    | ConnectionAborted
                    | ConnectionRefused
                    | BrokenPipe
            ),
            _ => false,
        }
    }
}

/// A block skipped under the errored-block budget (`ExecOptions::max_errored_blocks`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErroredBlock {
    /// The input split (a file, a part of an in-memory dataset).
    pub split: String,
    /// The block's position in the split; for a read failure, the first block not read.
    pub block: usize,
    /// Rows the block held, when known (a failed read does not know how many it lost).
    pub rows: Option<usize>,
    /// Why it failed.
    pub error: String,
}
