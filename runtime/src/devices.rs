//! Accelerator devices the executor can place work on: CUDA devices with the `cuda` feature
//! (see `gpu/`), none without it.

/// Number of GPUs available to this process.
pub fn count() -> usize {
    crate::gpu::device_count()
}
