//! The digits MLP's forward pass on a GPU: the kernels of `mlp.cu` (compiled to `mlp.ptx` by
//! `build_ptx.py`, embedded here) run on an aqueduct `DeviceWorker`, which splits a batch into
//! chunks that fit its device-memory budget and overlaps each chunk's copies with the kernels
//! of the one before. Predictions are bit-for-bit those of `Mlp::predict` (see `mlp.cu`).
#![allow(dead_code)]

use aqueduct::gpu::bytemuck::{cast_slice, cast_slice_mut};
use aqueduct::gpu::{Arg, DeviceArray, DeviceWorker, GpuError, Layout};

use super::mlp::{CLASSES, HIDDEN, INPUTS, Mlp};

/// The kernels, as compiled offline.
pub const PTX: &str = include_str!("mlp.ptx");

/// Threads per block of every launch.
const BLOCK: u32 = 256;

/// Device memory each worker's chunk buffers may use.
pub const DEVICE_MEMORY: usize = 64 << 20;

/// The model on one device: its weights uploaded once, its buffers allocated once.
pub struct GpuMlp {
    worker: DeviceWorker,
    w1: DeviceArray<f32>,
    b1: DeviceArray<f32>,
    w2: DeviceArray<f32>,
    b2: DeviceArray<f32>,
}

impl GpuMlp {
    /// Load `model` onto device `device`, with chunks bounded by `device_memory` bytes.
    pub fn new(device: usize, model: &Mlp, device_memory: usize) -> Result<Self, GpuError> {
        let layout = Layout {
            inputs: vec![INPUTS * 4],
            outputs: vec![4],
            scratch: vec![HIDDEN * 4, CLASSES * 4],
        };
        let worker = DeviceWorker::new(device, "mlp", PTX, layout, device_memory)?;
        Ok(GpuMlp {
            w1: worker.upload(&model.w1)?,
            b1: worker.upload(&model.b1)?,
            w2: worker.upload(&model.w2)?,
            b2: worker.upload(&model.b2)?,
            worker,
        })
    }

    /// The most likely digit of each row of `pixels` (`INPUTS` values per row).
    pub fn predict(&mut self, pixels: &[f32]) -> Result<Vec<i32>, GpuError> {
        let rows = pixels.len() / INPUTS;
        let mut predicted = vec![0i32; rows];
        let (w1, b1, w2, b2) = (
            self.w1.pointer(),
            self.b1.pointer(),
            self.w2.pointer(),
            self.b2.pointer(),
        );
        let output = cast_slice_mut(&mut predicted);
        self.worker.run(
            rows,
            &[cast_slice(pixels)],
            &mut [output],
            |launch, chunk| {
                let rows = chunk.rows;
                let (hidden, logits) = (chunk.scratch[0], chunk.scratch[1]);
                let grid = |threads: u32| threads.div_ceil(BLOCK);
                let dims =
                    |i: usize, o: usize| [Arg::U32(rows), Arg::U32(i as u32), Arg::U32(o as u32)];
                launch.launch(
                    "dense_relu",
                    grid(rows * HIDDEN as u32),
                    BLOCK,
                    &[
                        [chunk.inputs[0], w1, b1, hidden].as_slice(),
                        &dims(INPUTS, HIDDEN),
                    ]
                    .concat(),
                )?;
                launch.launch(
                    "dense",
                    grid(rows * CLASSES as u32),
                    BLOCK,
                    &[[hidden, w2, b2, logits].as_slice(), &dims(HIDDEN, CLASSES)].concat(),
                )?;
                launch.launch(
                    "argmax_rows",
                    grid(rows),
                    BLOCK,
                    &[
                        logits,
                        chunk.outputs[0],
                        Arg::U32(rows),
                        Arg::U32(CLASSES as u32),
                    ],
                )
            },
        )?;
        Ok(predicted)
    }

    /// The most likely digit of each image of a batch (each `INPUTS` pixels).
    pub fn predict_images<'a>(
        &mut self,
        images: impl IntoIterator<Item = &'a [f32]>,
    ) -> Result<Vec<i32>, GpuError> {
        let pixels: Vec<f32> = images.into_iter().flatten().copied().collect();
        self.predict(&pixels)
    }

    /// Rows per chunk the device-memory budget allows.
    pub fn chunk_rows(&self) -> usize {
        self.worker.chunk_rows()
    }
}
