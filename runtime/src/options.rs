//! How a run uses the machine: threads, the memory budget and ordering. The defaults come,
//! in this order, from what [`ExecOptions::set_global`] set for the process, from the
//! environment (`AQUEDUCT_THREADS`, `AQUEDUCT_MEMORY` such as `512MiB` or `2GiB`,
//! `AQUEDUCT_PRESERVE_ORDER=1`, `AQUEDUCT_PROGRESS=0`, `AQUEDUCT_SPILL_DIR`), and from the machine; each dataset can
//! override them.

use std::sync::RwLock;

use crate::sync::Recover;

/// How a run uses the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOptions {
    /// Worker threads (default: available parallelism).
    pub threads: usize,
    /// Bytes of blocks in flight between workers and consumer before workers wait (default: a
    /// quarter of the machine's memory).
    pub memory_budget: usize,
    /// Whether blocks reach the consumer in source order (default: off — blocks come as they
    /// are ready, which keeps every worker busy; on, the output is deterministic).
    pub preserve_order: bool,
    /// Whether to draw a progress bar per operator on stderr (default: when stderr is a
    /// terminal and `AQUEDUCT_PROGRESS` is not `0`).
    pub progress: bool,
    /// Largest block handed on: a bigger one (from `flat_map` or `map_batches`, say) is cut
    /// into slices of at most this many bytes, without copying (default 128 MiB,
    /// `AQUEDUCT_BLOCK_BYTES`). Smaller blocks are not merged: readers make cache-sized blocks,
    /// which the fused loops run fastest on.
    pub target_block_bytes: usize,
    /// Bytes of a CSV, JSON-lines or text file one read task takes: larger files are cut at
    /// line boundaries into ranges of about this size, read in parallel (default 64 MiB,
    /// `AQUEDUCT_SPLIT_BYTES`).
    pub split_bytes: usize,
    /// Blocks buffered between workers and consumer before workers wait.
    pub queue_blocks: usize,
    /// Where all-to-all operators spill what exceeds the memory budget (default: the system's
    /// temporary directory, `AQUEDUCT_SPILL_DIR`). Each run spills into its own fresh
    /// subdirectory, removed when the run ends, also on error.
    pub spill_dir: std::path::PathBuf,
    /// Where runs that end in a sink checkpoint their progress (`None`: no checkpoint). A run
    /// killed part-way and started again with the same checkpoint skips the input splits whose
    /// output was committed (see the `checkpoint` module). A local path or an object-store
    /// URL (as for sources and sinks). Each sink gets a subdirectory.
    pub checkpoint: Option<String>,
    /// Remove the checkpoint once the run has succeeded.
    pub delete_checkpoint_on_success: bool,
    /// How transient failures (storage service and network errors, interrupted IO) are
    /// retried: a split whose read fails is read again, skipping the blocks it already
    /// delivered.
    pub retry: crate::retry::RetryPolicy,
    /// Blocks that may fail (after retries) before the run fails: each is skipped, counted
    /// and listed in the run's statistics (default 0: the first failure fails the run).
    pub max_errored_blocks: usize,
}

static GLOBAL: RwLock<Option<ExecOptions>> = RwLock::new(None);

impl ExecOptions {
    /// The options every dataset of this process starts from, unless it overrides them.
    pub fn set_global(options: ExecOptions) {
        *GLOBAL.write().recover() = Some(options);
    }

    /// The options from the environment and the machine, ignoring [`ExecOptions::set_global`].
    pub fn from_environment() -> Self {
        let threads = env("AQUEDUCT_THREADS")
            .and_then(|t| t.parse().ok())
            .filter(|t: &usize| *t > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let memory_budget = env("AQUEDUCT_MEMORY")
            .and_then(|m| parse_bytes(&m))
            .unwrap_or_else(|| total_memory().map_or(1 << 30, |total| total / 4));
        let preserve_order = env("AQUEDUCT_PRESERVE_ORDER").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && !env("AQUEDUCT_PROGRESS")
                .is_some_and(|v| matches!(v.trim(), "0" | "false" | "no" | "off"));
        let split_bytes = env("AQUEDUCT_SPLIT_BYTES")
            .and_then(|b| parse_bytes(&b))
            .filter(|b| *b > 0)
            .unwrap_or(64 << 20);
        let target_block_bytes = env("AQUEDUCT_BLOCK_BYTES")
            .and_then(|b| parse_bytes(&b))
            .filter(|b| *b > 0)
            .unwrap_or(128 << 20);
        let spill_dir = env("AQUEDUCT_SPILL_DIR").map_or_else(std::env::temp_dir, Into::into);
        Self {
            threads,
            memory_budget,
            preserve_order,
            progress,
            target_block_bytes,
            split_bytes,
            queue_blocks: 64,
            spill_dir,
            checkpoint: None,
            delete_checkpoint_on_success: false,
            retry: crate::retry::RetryPolicy::default(),
            max_errored_blocks: 0,
        }
    }
}

impl Default for ExecOptions {
    /// The process-wide options if set, else those from the environment and the machine.
    fn default() -> Self {
        GLOBAL
            .read()
            .recover()
            .clone()
            .unwrap_or_else(Self::from_environment)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `1024`, `64KiB`, `512MiB`, `2GiB`, `1.5GB`, ... as bytes.
pub fn parse_bytes(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * scale) as usize)
}

/// The machine's memory, from `/proc/meminfo` where there is one.
fn total_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("64KiB"), Some(65536));
        assert_eq!(parse_bytes("2 GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("3 parsecs"), None);
    }
}
