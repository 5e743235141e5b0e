//! GPU checks (`--features cuda`): every kernel (the digits MLP's, and those codegen emits for
//! `with_columns(.., num_gpus = n)`) against the CPU on random inputs, the digits
//! classifier's predictions on the GPU equal to the CPU's, a batch larger than the device
//! memory budget split into chunks, and the errors of a module that does not load and of a
//! launch with the wrong argument types.
//!
//! They need a CUDA device. Without one each reports itself as skipped, by name — never as
//! passed. (The CPU fallback of GPU stages is tested everywhere, in `tests/digits.rs`.)

#[path = "../examples/digits/mlp.rs"]
mod mlp;

#[path = "../examples/digits/gpu.rs"]
mod gpu;

#[path = "shared/gpu_columns.rs"]
mod gpu_columns;

use aqueduct::gpu::bytemuck::{cast_slice, cast_slice_mut};
use aqueduct::gpu::{Arg, DeviceWorker, GpuError, Layout};
use aqueduct::prelude::*;
use mlp::{CLASSES, HIDDEN, INPUTS, Mlp};

type Check = fn() -> Result<(), String>;

const CHECKS: &[(&str, Check)] = &[
    (
        "every_kernel_matches_the_cpu_on_random_inputs",
        kernels_match_the_cpu,
    ),
    (
        "emitted_column_kernels_match_the_cpu_bit_for_bit",
        emitted_kernels_match_the_cpu,
    ),
    (
        "digits_predictions_on_the_gpu_equal_the_cpu",
        digits_match_the_cpu,
    ),
    (
        "a_pipeline_stage_with_num_gpus_runs_on_the_gpu",
        pipeline_runs_on_the_gpu,
    ),
    (
        "a_batch_larger_than_the_device_memory_budget_is_split",
        large_batches_are_split,
    ),
    (
        "a_module_that_does_not_load_names_itself_and_says_why",
        bad_ptx_is_a_clear_error,
    ),
    (
        "a_launch_with_the_wrong_argument_types_is_refused",
        wrong_arguments_are_refused,
    ),
];

fn main() -> std::process::ExitCode {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let chosen: Vec<_> = CHECKS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    let devices = aqueduct::gpu::device_count();
    println!(
        "\nrunning {} GPU checks ({devices} CUDA device(s))",
        chosen.len()
    );
    let mut failed = 0;
    for (name, check) in &chosen {
        if devices == 0 {
            println!("test {name} ... skipped (no CUDA device)");
            continue;
        }
        let started = std::time::Instant::now();
        match std::panic::catch_unwind(check) {
            Ok(Ok(())) => println!("test {name} ... ok ({:.0?})", started.elapsed()),
            Ok(Err(why)) => {
                failed += 1;
                println!("test {name} ... FAILED: {why}");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED (panicked)");
            }
        }
    }
    let skipped = if devices == 0 { chosen.len() } else { 0 };
    println!(
        "\nGPU checks: {} passed; {failed} failed; {skipped} skipped\n",
        chosen.len() - failed - skipped
    );
    if failed > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// A small deterministic generator of values in [-1, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn values(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() + 1.0) / 2.0 * n as f32) as usize % n + 1
    }
}

/// `dense` / `dense_relu` on the CPU, in the kernels' order.
fn dense_cpu(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    rows: usize,
    inputs: usize,
    outputs: usize,
    relu: bool,
) -> Vec<f32> {
    let mut y = vec![0.0; rows * outputs];
    for r in 0..rows {
        for o in 0..outputs {
            let s = w[o * inputs..(o + 1) * inputs]
                .iter()
                .zip(&x[r * inputs..(r + 1) * inputs])
                .map(|(w, x)| w * x)
                .sum::<f32>()
                + b[o];
            y[r * outputs + o] = if relu { s.max(0.0) } else { s };
        }
    }
    y
}

fn emitted_kernels_match_the_cpu() -> Result<(), String> {
    // 300,000 rows: several blocks, and chunks of the device worker.
    gpu_columns::compare(300_000)?;
    // Over tensors: a thread per element (the digits normalize step).
    gpu_columns::compare_tensors(50_000)?;
    // The stage really ran on the device: refusing the CPU still works.
    let rows = pipeline! {
        from_items::<gpu_columns::Reading>(gpu_columns::readings(1000))
        |> with_columns(z = x * 2.0, num_gpus = 1, cpu_fallback = false)
    }
    .count()
    .map_err(|e| e.to_string())?;
    if rows != 1000 {
        return Err(format!("{rows} rows"));
    }
    Ok(())
}

fn failed(e: GpuError) -> String {
    e.to_string()
}

fn kernels_match_the_cpu() -> Result<(), String> {
    let mut random = Lcg(7);
    for round in 0..12 {
        let (rows, inputs, outputs) = (random.below(3000), random.below(200), random.below(200));
        let x = random.values(rows * inputs);
        let w = random.values(outputs * inputs);
        let b = random.values(outputs);
        for (kernel, relu) in [("dense", false), ("dense_relu", true)] {
            let layout = Layout {
                inputs: vec![inputs * 4],
                outputs: vec![outputs * 4],
                scratch: vec![],
            };
            let mut worker =
                DeviceWorker::new(0, "mlp", gpu::PTX, layout, 1 << 20).map_err(failed)?;
            let (dw, db) = (
                worker.upload(&w).map_err(failed)?,
                worker.upload(&b).map_err(failed)?,
            );
            // Poisoned: an element the kernel does not write fails the comparison.
            let mut y = vec![f32::NAN; rows * outputs];
            worker
                .run(
                    rows,
                    &[cast_slice(&x)],
                    &mut [cast_slice_mut(&mut y)],
                    |launch, chunk| {
                        let threads = chunk.rows * outputs as u32;
                        launch.launch(
                            kernel,
                            threads.div_ceil(256),
                            256,
                            &[
                                chunk.inputs[0],
                                dw.pointer(),
                                db.pointer(),
                                chunk.outputs[0],
                                Arg::U32(chunk.rows),
                                Arg::U32(inputs as u32),
                                Arg::U32(outputs as u32),
                            ],
                        )
                    },
                )
                .map_err(failed)?;
            let expected = dense_cpu(&x, &w, &b, rows, inputs, outputs, relu);
            // Exact values (a ReLU's zero may carry either sign, as `max` promises nothing there).
            let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
            if let Some(at) = (0..y.len()).find(|&i| !same(y[i], expected[i])) {
                return Err(format!(
                    "round {round}: `{kernel}` {rows}×{inputs}→{outputs} differs at {at}: GPU {} CPU {}",
                    y[at], expected[at]
                ));
            }
        }
        // argmax, with ties (rounded values) to check the first is kept.
        let width = outputs;
        let values: Vec<f32> = random
            .values(rows * width)
            .iter()
            .map(|v| (v * 4.0).round())
            .collect();
        let layout = Layout {
            inputs: vec![width * 4],
            outputs: vec![4],
            scratch: vec![],
        };
        let mut worker = DeviceWorker::new(0, "mlp", gpu::PTX, layout, 1 << 20).map_err(failed)?;
        let mut best = vec![-1i32; rows];
        worker
            .run(
                rows,
                &[cast_slice(&values)],
                &mut [cast_slice_mut(&mut best)],
                |launch, chunk| {
                    launch.launch(
                        "argmax_rows",
                        chunk.rows.div_ceil(256),
                        256,
                        &[
                            chunk.inputs[0],
                            chunk.outputs[0],
                            Arg::U32(chunk.rows),
                            Arg::U32(width as u32),
                        ],
                    )
                },
            )
            .map_err(failed)?;
        for r in 0..rows {
            let expected = mlp::argmax(&values[r * width..(r + 1) * width]) as i32;
            if best[r] != expected {
                return Err(format!(
                    "round {round}: argmax of row {r}: GPU {} CPU {expected}",
                    best[r]
                ));
            }
        }
    }
    Ok(())
}

#[derive(Record, Debug, Clone)]
struct Digit {
    image: Tensor<u8, 8, 8>,
}

fn digit_pixels() -> Vec<f32> {
    pipeline! { read_images::<Digit>("examples/data/digits") }
        .take_all()
        .unwrap()
        .iter()
        .flat_map(|d| d.image.values().iter().map(|&p| mlp::normalize(p)))
        .collect()
}

fn digits_match_the_cpu() -> Result<(), String> {
    let model = Mlp::load("examples/data/digits_mlp.json")?;
    let pixels = digit_pixels();
    let mut on_gpu = gpu::GpuMlp::new(0, &model, gpu::DEVICE_MEMORY).map_err(failed)?;
    let predicted = on_gpu.predict(&pixels).map_err(failed)?;
    let expected: Vec<i32> = pixels
        .chunks(INPUTS)
        .map(|x| model.predict(x) as i32)
        .collect();
    if predicted.len() != 1797 || predicted != expected {
        let differ = predicted
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a != b)
            .count();
        return Err(format!("{differ} of {} predictions differ", expected.len()));
    }
    Ok(())
}

fn pipeline_runs_on_the_gpu() -> Result<(), String> {
    // The pool places the stage's worker on device 0 and the example's classifier uses it.
    #[derive(Record, Debug, Clone)]
    struct Normalized {
        pixels: Tensor<f32, 8, 8>,
    }
    #[derive(Record, Debug, Clone)]
    struct Predicted {
        predicted: i64,
    }
    struct OnGpu(gpu::GpuMlp);
    impl aqueduct::pool::Stateful for OnGpu {
        type Args = ();
        type Batch = Vec<Normalized>;
        type Output = Result<Vec<Predicted>, aqueduct::pool::BoxError>;
        fn new(_: ()) -> Result<Self, aqueduct::pool::BoxError> {
            Err("placed on the CPU although a GPU exists".into())
        }
        fn new_on_gpus(_: (), devices: &[usize]) -> Result<Self, aqueduct::pool::BoxError> {
            let model = Mlp::load("examples/data/digits_mlp.json")?;
            Ok(OnGpu(gpu::GpuMlp::new(
                devices[0],
                &model,
                gpu::DEVICE_MEMORY,
            )?))
        }
        fn call(&mut self, batch: Vec<Normalized>) -> Self::Output {
            Ok(self
                .0
                .predict_images(batch.iter().map(|n| n.pixels.values()))?
                .into_iter()
                .map(|p| Predicted {
                    predicted: p as i64,
                })
                .collect())
        }
    }
    let pixels = digit_pixels();
    let rows: Vec<Normalized> = pixels
        .chunks(INPUTS)
        .map(|p| Normalized {
            pixels: Tensor::new(p.to_vec()).unwrap(),
        })
        .collect();
    let predicted: Vec<i64> = pipeline! {
        from_items::<Normalized>(rows)
        |> map_batches::<Predicted>(OnGpu, compute = actors(1), num_gpus = 1, cpu_fallback = false, batch_size = 256)
    }
    .with_options(aqueduct::ExecOptions { preserve_order: true, ..Default::default() })
    .take_all()
    .map_err(|e| e.to_string())?
    .into_iter()
    .map(|p| p.predicted)
    .collect();
    let model = Mlp::load("examples/data/digits_mlp.json")?;
    let expected: Vec<i64> = pixels
        .chunks(INPUTS)
        .map(|x| model.predict(x) as i64)
        .collect();
    if predicted != expected {
        return Err("the pipeline's GPU predictions differ from the CPU's".into());
    }
    Ok(())
}

fn large_batches_are_split() -> Result<(), String> {
    let model = Mlp::load("examples/data/digits_mlp.json")?;
    let mut random = Lcg(11);
    let pixels = random.values(50_000 * INPUTS);
    // 256 KiB for two slots of (64 + 128 + 10 floats + 1 int) per row: ~160 rows per chunk.
    let mut small = gpu::GpuMlp::new(0, &model, 256 << 10).map_err(failed)?;
    if small.chunk_rows() >= 50_000 {
        return Err(format!(
            "{} rows per chunk: nothing was split",
            small.chunk_rows()
        ));
    }
    let predicted = small.predict(&pixels).map_err(failed)?;
    let expected: Vec<i32> = pixels
        .chunks(INPUTS)
        .map(|x| model.predict(x) as i32)
        .collect();
    if predicted != expected {
        return Err("chunked predictions differ from the CPU's".into());
    }
    // A budget that cannot hold one row is a clear error.
    match gpu::GpuMlp::new(0, &model, 100) {
        Err(GpuError::Memory { what, .. }) if what.contains("one row") => Ok(()),
        Err(other) => Err(format!("unexpected error: {other}")),
        Ok(_) => Err("a 100-byte budget was accepted".into()),
    }
}

fn bad_ptx_is_a_clear_error() -> Result<(), String> {
    let broken = gpu::PTX.replacen("ret;", "rett;", 1);
    let layout = Layout {
        inputs: vec![4],
        outputs: vec![4],
        scratch: vec![],
    };
    match DeviceWorker::new(0, "mlp-broken", &broken, layout, 1 << 20) {
        Err(error @ GpuError::Load { .. }) => {
            let text = error.to_string();
            if text.contains("mlp-broken") && text.contains("failed to load") {
                println!("    (the error reads: {text})");
                Ok(())
            } else {
                Err(format!("unclear: {text}"))
            }
        }
        Err(other) => Err(format!("unexpected error: {other}")),
        Ok(_) => Err("a broken module loaded".into()),
    }
}

fn wrong_arguments_are_refused() -> Result<(), String> {
    let layout = Layout {
        inputs: vec![4 * CLASSES],
        outputs: vec![4],
        scratch: vec![],
    };
    let mut worker = DeviceWorker::new(0, "mlp", gpu::PTX, layout, 1 << 20).map_err(failed)?;
    let values = vec![0.5f32; CLASSES * 10];
    let mut best = vec![0i32; 10];
    let result = worker.run(
        10,
        &[cast_slice(&values)],
        &mut [cast_slice_mut(&mut best)],
        |launch, chunk| {
            // A row count passed as a 64-bit integer where the kernel declares .u32.
            launch.launch(
                "argmax_rows",
                1,
                256,
                &[
                    chunk.inputs[0],
                    chunk.outputs[0],
                    Arg::U64(chunk.rows as u64),
                    Arg::U32(CLASSES as u32),
                ],
            )
        },
    );
    match result {
        Err(GpuError::Launch { kernel, reason, .. })
            if kernel == "argmax_rows" && reason.contains("argument 2") =>
        {
            let _ = HIDDEN;
            Ok(())
        }
        Err(other) => Err(format!("unexpected error: {other}")),
        Ok(()) => Err("a u64 was passed for a .u32 parameter".into()),
    }
}
