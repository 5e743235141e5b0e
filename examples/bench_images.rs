//! W3 of BENCHMARKS.md: images per second of the digits pipeline on 50,000 PNG files
//! (the shipped digits replicated: image n = digits[n mod 1797]), against a hand-written Rust
//! loop doing the same decode + normalize + MLP + accuracy per label, and the cost of the
//! stateful stage against calling the model directly. Each side runs in processes of its own.
//!
//! `cargo run --release --example bench_images [images]`; built with `--features cuda` on a
//! machine with a GPU it adds the pipeline with the classifier on the GPU (`num_gpus = 1`),
//! with the GPU stage's busy fraction (the time its one actor spent in calls over the run's).

#[path = "digits/mlp.rs"]
mod mlp;

#[cfg(feature = "cuda")]
#[path = "digits/gpu.rs"]
mod gpu;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aqueduct::pool::{BoxError, Stateful};
use aqueduct::prelude::*;
use mlp::Mlp;

const WEIGHTS: &str = "examples/data/digits_mlp.json";

#[derive(Record, Debug, Clone)]
struct Digit {
    image: Tensor<u8, 8, 8>,
}

#[derive(Record, Debug, Clone)]
struct DigitFile {
    image: Tensor<u8, 8, 8>,
    path: String,
}

#[derive(Record, Debug, Clone)]
struct Normalized {
    pixels: Tensor<f32, 8, 8>,
    path: String,
}

#[derive(Record, Debug, Clone)]
struct Predicted {
    path: String,
    predicted: i64,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct LabelAccuracy {
    label: i64,
    images: u64,
    accuracy: Option<f64>,
}

fn normalize(batch: Vec<DigitFile>) -> Vec<Normalized> {
    batch
        .into_iter()
        .map(|d| Normalized {
            pixels: Tensor::new(
                d.image
                    .values()
                    .iter()
                    .map(|&p| mlp::normalize(p))
                    .collect(),
            )
            .expect("64 values"),
            path: d.path,
        })
        .collect()
}

fn classify(model: &Mlp, batch: Vec<Normalized>) -> Vec<Predicted> {
    batch
        .into_iter()
        .map(|n| Predicted {
            predicted: model.predict(n.pixels.values()) as i64,
            path: n.path,
        })
        .collect()
}

struct Classifier {
    model: Mlp,
}

impl Stateful for Classifier {
    type Args = String;
    type Batch = Vec<Normalized>;
    type Output = Vec<Predicted>;
    fn new(weights: String) -> Result<Self, BoxError> {
        Ok(Classifier {
            model: Mlp::load(&weights)?,
        })
    }
    fn call(&mut self, batch: Vec<Normalized>) -> Vec<Predicted> {
        classify(&self.model, batch)
    }
}

/// The threads of each side: `AQUEDUCT_THREADS` (which the pipelines read too) or the machine's.
fn threads() -> usize {
    std::env::var("AQUEDUCT_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// The digits pipeline with the stateful classifier, as `examples/digits.rs` has it.
fn aqueduct_stateful(dir: &Path, out: &Path) -> usize {
    let input = format!("{}/images", dir.display());
    let weights = WEIGHTS.to_owned();
    let threads = threads();
    let job = pipeline! {
        read_images::<Digit>(input, include_paths = true)
        |> map_batches::<Normalized>(normalize)
        |> map_batches::<Predicted>(Classifier, args = (weights), compute = actors(threads), batch_size = 256)
        |> with_column(label: i64 = mlp::label_of(path))
        |> with_column(correct: f64 = if predicted == label { 1.0 } else { 0.0 })
        |> groupby(label)
        |> aggregate::<LabelAccuracy>(images = count(), accuracy = mean(correct))
        |> write_parquet(out.to_str().unwrap(), mode = overwrite)
    };
    let rows = job.run().unwrap().rows;
    if std::env::var("BENCH_STATS").is_ok() {
        eprintln!("{}", job.dataset().stats().unwrap());
    }
    rows
}

/// The classifier on a GPU: one worker on device 0, big batches.
#[cfg(feature = "cuda")]
struct GpuClassifier(gpu::GpuMlp);

/// Time the GPU actor spent in its calls. The stage's `wall` in `stats()` would not do: it
/// also counts the time the CPU workers wait for the one actor, summed over threads.
#[cfg(feature = "cuda")]
static GPU_BUSY_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[cfg(feature = "cuda")]
impl Stateful for GpuClassifier {
    type Args = String;
    type Batch = Vec<Normalized>;
    type Output = Result<Vec<Predicted>, BoxError>;
    fn new(_: String) -> Result<Self, BoxError> {
        Err("the GPU side needs a GPU".into())
    }
    fn new_on_gpus(weights: String, devices: &[usize]) -> Result<Self, BoxError> {
        let model = Mlp::load(&weights)?;
        Ok(GpuClassifier(gpu::GpuMlp::new(
            devices[0],
            &model,
            gpu::DEVICE_MEMORY,
        )?))
    }
    fn call(&mut self, batch: Vec<Normalized>) -> Self::Output {
        let started = Instant::now();
        let predicted = self
            .0
            .predict_images(batch.iter().map(|n| n.pixels.values()));
        GPU_BUSY_NS.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let predicted = predicted?;
        Ok(batch
            .into_iter()
            .zip(predicted)
            .map(|(n, p)| Predicted {
                path: n.path,
                predicted: p as i64,
            })
            .collect())
    }
}

/// The stateful pipeline with the classifier on the GPU; returns rows and the GPU stage's
/// busy fraction.
#[cfg(feature = "cuda")]
fn aqueduct_gpu(dir: &Path, out: &Path) -> (usize, f64) {
    let input = format!("{}/images", dir.display());
    let weights = WEIGHTS.to_owned();
    let job = pipeline! {
        read_images::<Digit>(input, include_paths = true)
        |> map_batches::<Normalized>(normalize)
        |> map_batches::<Predicted>(GpuClassifier, args = (weights), compute = actors(1), num_gpus = 1, cpu_fallback = false, batch_size = 4096)
        |> with_column(label: i64 = mlp::label_of(path))
        |> with_column(correct: f64 = if predicted == label { 1.0 } else { 0.0 })
        |> groupby(label)
        |> aggregate::<LabelAccuracy>(images = count(), accuracy = mean(correct))
        |> write_parquet(out.to_str().unwrap(), mode = overwrite)
    };
    GPU_BUSY_NS.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let rows = job.run().unwrap().rows;
    let total = start.elapsed();
    let busy = Duration::from_nanos(GPU_BUSY_NS.load(Ordering::Relaxed));
    (rows, busy.as_secs_f64() / total.as_secs_f64())
}

/// The same pipeline calling the model directly from a plain function (loaded once, shared).
fn aqueduct_direct(dir: &Path, out: &Path) -> usize {
    let input = format!("{}/images", dir.display());
    let model = Arc::new(Mlp::load(WEIGHTS).unwrap());
    pipeline! {
        read_images::<Digit>(input, include_paths = true)
        |> map_batches::<Normalized>(normalize)
        |> map_batches(move |b: Vec<Normalized>| -> Vec<Predicted> { classify(&model, b) }, batch_size = 256)
        |> with_column(label: i64 = mlp::label_of(path))
        |> with_column(correct: f64 = if predicted == label { 1.0 } else { 0.0 })
        |> groupby(label)
        |> aggregate::<LabelAccuracy>(images = count(), accuracy = mean(correct))
        |> write_parquet(out.to_str().unwrap(), mode = overwrite)
    }
    .run()
    .unwrap()
    .rows
}

/// W3 by hand: files claimed by each thread from an atomic counter, read, decoded, normalized,
/// classified, counted per label; merged, then written as parquet.
fn hand(dir: &Path, out: &Path) -> usize {
    let mut files: Vec<PathBuf> = Vec::new();
    for label in std::fs::read_dir(dir.join("images")).unwrap() {
        for file in std::fs::read_dir(label.unwrap().path()).unwrap() {
            files.push(file.unwrap().path());
        }
    }
    let model = Mlp::load(WEIGHTS).unwrap();
    let threads = threads();
    let next = AtomicUsize::new(0);
    let tables: Vec<BTreeMap<i64, (u64, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut table: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(index) else {
                            return table;
                        };
                        let bytes = std::fs::read(path).unwrap();
                        let pixels = image::load_from_memory(&bytes).unwrap().to_luma8();
                        let x: Vec<f32> = pixels.iter().map(|&p| mlp::normalize(p)).collect();
                        let predicted = model.predict(&x) as i64;
                        let label = mlp::label_of(path.to_str().unwrap());
                        let e = table.entry(label).or_default();
                        e.0 += 1;
                        e.1 += (predicted == label) as u64;
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for table in tables {
        for (label, (n, right)) in table {
            let e = all.entry(label).or_default();
            e.0 += n;
            e.1 += right;
        }
    }
    let rows: Vec<LabelAccuracy> = all
        .into_iter()
        .map(|(label, (n, right))| LabelAccuracy {
            label,
            images: n,
            accuracy: Some(right as f64 / n as f64),
        })
        .collect();
    std::fs::create_dir_all(out).unwrap();
    let batch = LabelAccuracy::to_batch(&rows);
    let file = std::fs::File::create(out.join("part-00000-00000.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    rows.len()
}

fn generate(dir: &Path, images: usize) {
    let mut digits: Vec<(String, PathBuf)> = Vec::new();
    for label in std::fs::read_dir("examples/data/digits").unwrap() {
        let label = label.unwrap().path();
        if !label.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&label).unwrap() {
            let name = label.file_name().unwrap().to_str().unwrap().to_owned();
            digits.push((name, file.unwrap().path()));
        }
    }
    digits.sort();
    for n in 0..images {
        let (label, source) = &digits[n % digits.len()];
        let target = dir.join("images").join(label);
        std::fs::create_dir_all(&target).unwrap();
        std::fs::copy(source, target.join(format!("{n}.png"))).unwrap();
    }
}

fn median_of(runs: usize, mut f: impl FnMut() -> usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn child(dir: &Path, side: &str) -> Duration {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BENCH_DIR", dir)
        .env("BENCH_SIDE", side)
        .output()
        .unwrap();
    assert!(output.status.success(), "{side}: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let seconds: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    if let Some(busy) = text.split_whitespace().nth(1) {
        eprintln!(
            "{side}: GPU stage busy {:.0}% of the run",
            busy.parse::<f64>().unwrap() * 100.0
        );
    }
    Duration::from_secs_f64(seconds)
}

fn main() {
    let images: usize = std::env::args()
        .nth(1)
        .map_or(50_000, |a| a.parse().expect("an image count"));
    let temporary = tempfile::tempdir().unwrap();
    let kept = std::env::var("BENCH_DIR").ok().map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temporary.path());
    if let Ok(side) = std::env::var("BENCH_SIDE") {
        #[cfg(feature = "cuda")]
        if side == "gpu" {
            let mut busy = Vec::new();
            let time = median_of(5, || {
                let (rows, fraction) = aqueduct_gpu(dir, &dir.join("gpu"));
                busy.push(fraction);
                rows
            });
            busy.sort_by(f64::total_cmp);
            println!("{} {}", time.as_secs_f64(), busy[busy.len() / 2]);
            return;
        }
        let time = match side.as_str() {
            "hand" => median_of(5, || hand(dir, &dir.join("hand"))),
            "stateful" => median_of(5, || aqueduct_stateful(dir, &dir.join("stateful"))),
            _ => median_of(5, || aqueduct_direct(dir, &dir.join("direct"))),
        };
        println!("{}", time.as_secs_f64());
        return;
    }
    if !dir.join("images").exists() {
        generate(dir, images);
    }
    // The three give the same table.
    hand(dir, &dir.join("hand"));
    aqueduct_stateful(dir, &dir.join("stateful"));
    aqueduct_direct(dir, &dir.join("direct"));
    let read = |name: &str| {
        let location = format!("{}/{name}", dir.display());
        pipeline! { read_parquet::<LabelAccuracy>(location) }
            .take_all()
            .unwrap()
    };
    assert_eq!(read("hand"), read("stateful"));
    assert_eq!(read("hand"), read("direct"));
    #[cfg_attr(not(feature = "cuda"), allow(unused_mut))]
    let mut sides = vec!["hand", "stateful", "direct"];
    #[cfg(feature = "cuda")]
    if aqueduct::gpu::device_count() > 0 {
        aqueduct_gpu(dir, &dir.join("gpu"));
        assert_eq!(read("hand"), read("gpu"), "GPU predictions differ");
        sides.push("gpu");
    }

    let rounds = 5;
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..rounds {
        for side in &sides {
            times.entry(side).or_default().push(child(dir, side));
        }
    }
    let median = |side: &str| {
        let mut t = times[side].clone();
        t.sort();
        t[rounds / 2]
    };
    let (hand, stateful, direct) = (median("hand"), median("stateful"), median("direct"));
    let gpu = sides.contains(&"gpu").then(|| median("gpu"));
    let per_second = |d: Duration| images as f64 / d.as_secs_f64();
    println!(
        "{images} PNG files, {} threads; each side in its own processes, {rounds} rounds, medians\n",
        threads()
    );
    println!("| W3 digits pipeline | time | images/s | / hand-written |");
    println!("|---|---|---|---|");
    let mut rows = vec![
        ("hand-written Rust loop", hand),
        ("aqueduct, stateful classifier stage", stateful),
        (
            "aqueduct, the model called from a plain map_batches",
            direct,
        ),
    ];
    rows.extend(gpu.map(|t| ("aqueduct, the classifier on the GPU (num_gpus = 1)", t)));
    for (name, time) in rows {
        println!(
            "| {name} | {:.3} s | {:.0} | {:.2} |",
            time.as_secs_f64(),
            per_second(time),
            time.as_secs_f64() / hand.as_secs_f64()
        );
    }
    println!(
        "\nthe stateful stage over calling the model directly: {:+.1}%",
        (stateful.as_secs_f64() / direct.as_secs_f64() - 1.0) * 100.0
    );
}
