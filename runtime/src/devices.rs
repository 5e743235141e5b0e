//! Accelerator devices the executor can place work on. Without the `cuda` feature there are
//! none: stages asking for GPUs are refused with a clear error.

/// Number of GPUs available to this process.
pub fn count() -> usize {
    0
}
