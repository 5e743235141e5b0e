//! GPU stages through CUDA (the `cuda` feature, using `cust`).
//!
//! A stage with `num_gpus` runs on a worker pool whose workers are placed on devices
//! (`crate::pool`). A worker that uses a GPU holds a `DeviceWorker` (with the feature): the
//! device's primary context, two streams, its PTX module loaded once, pinned host staging
//! buffers and device buffers sized to a device-memory budget. It runs a batch in chunks of
//! rows: while chunk k's kernels run on one stream, chunk k+1 is staged and copied to the
//! device on the other, and chunk k−1's results come back — so copies overlap kernels, and a
//! batch larger than the budget is split rather than refused. Launches are checked against
//! the kernels' PTX signatures ([`ptx`]), so an `f64` passed for an `.f32` is an error, not
//! garbage.
//!
//! Without the feature, or on a machine without a device, [`device_count`] is 0 and stages
//! with `num_gpus` fall back to their CPU path (see `crate::pool`); `pool/gpu_columns.rs` is
//! the pooled stage that runs the kernels `pipeline!` emits.

pub mod ptx;

pub use ptx::{Arg, ParamType, Signatures};

#[cfg(feature = "cuda")]
mod cuda;

/// For viewing typed columns as the bytes [`DeviceWorker::run`] takes (`cast_slice`).
#[cfg(feature = "cuda")]
pub use bytemuck;
#[cfg(feature = "cuda")]
pub use cuda::{Chunk, DeviceArray, DeviceWorker, GpuError, Launcher, Layout};

/// The number of CUDA devices this process can use (0 without the `cuda` feature).
pub fn device_count() -> usize {
    #[cfg(feature = "cuda")]
    {
        cuda::device_count()
    }
    #[cfg(not(feature = "cuda"))]
    {
        0
    }
}
