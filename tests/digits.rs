//! The tutorial's digits pipeline on the shipped images and weights: the classifier loads its
//! weights once per worker, reaches the accuracy it was trained to, and a bad weights file is a
//! clear error.

#[path = "../examples/digits/mlp.rs"]
mod mlp;

use std::sync::atomic::{AtomicUsize, Ordering};

use aqueduct::pool::{BoxError, Stateful};
use aqueduct::prelude::*;
use mlp::Mlp;

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
struct Predicted {
    path: String,
    predicted: i64,
}

static LOADS: AtomicUsize = AtomicUsize::new(0);

struct Classifier {
    model: Mlp,
}

impl Stateful for Classifier {
    type Args = String;
    type Batch = Vec<DigitFile>;
    type Output = Vec<Predicted>;
    fn new(weights: String) -> Result<Self, BoxError> {
        let model = Mlp::load(&weights)?;
        LOADS.fetch_add(1, Ordering::SeqCst);
        Ok(Classifier { model })
    }
    fn call(&mut self, batch: Vec<DigitFile>) -> Vec<Predicted> {
        batch
            .into_iter()
            .map(|d| {
                let x: Vec<f32> = d
                    .image
                    .values()
                    .iter()
                    .map(|&p| mlp::normalize(p))
                    .collect();
                Predicted {
                    predicted: self.model.predict(&x) as i64,
                    path: d.path,
                }
            })
            .collect()
    }
}

#[test]
fn the_classifier_loads_once_per_worker_and_is_accurate() {
    let weights = String::from("examples/data/digits_mlp.json");
    let rows = pipeline! {
        read_images::<Digit>("examples/data/digits", include_paths = true)
        |> map_batches::<Predicted>(Classifier, args = (weights), compute = actors(2), batch_size = 100)
        |> with_column(label: i64 = mlp::label_of(path))
        |> with_column(correct: f64 = if predicted == label { 1.0 } else { 0.0 })
        |> aggregate(images = count(), accuracy = mean(correct))
    }
    .with_threads(2)
    .take_all()
    .unwrap();
    assert_eq!(rows[0].images, 1797);
    let accuracy = rows[0].accuracy.unwrap();
    assert!(accuracy > 0.95, "accuracy {accuracy}");
    let loads = LOADS.load(Ordering::SeqCst);
    assert!((1..=2).contains(&loads), "{loads} loads for a pool of 2");
}

#[test]
fn weights_of_the_wrong_size_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("weights.json");
    let mut model = Mlp::load("examples/data/digits_mlp.json").unwrap();
    model.w1.truncate(100);
    model.save(bad.to_str().unwrap()).unwrap();
    let weights = bad.to_str().unwrap().to_owned();
    let err = pipeline! {
        read_images::<Digit>("examples/data/digits", include_paths = true)
        |> map_batches::<Predicted>(Classifier, args = (weights), compute = actors(1))
    }
    .count()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("layer `w1` has 100 weights, the 64→128→10 MLP needs 8192"),
        "{err}"
    );
}

/// A classifier that records where the pool placed it.
struct Placed {
    model: Mlp,
}

static ON_GPU: AtomicUsize = AtomicUsize::new(0);

impl Stateful for Placed {
    type Args = String;
    type Batch = Vec<DigitFile>;
    type Output = Vec<Predicted>;
    fn new(weights: String) -> Result<Self, BoxError> {
        Ok(Placed {
            model: Mlp::load(&weights)?,
        })
    }
    fn new_on_gpus(weights: String, devices: &[usize]) -> Result<Self, BoxError> {
        assert_eq!(devices.len(), 1, "one device per worker");
        ON_GPU.fetch_add(1, Ordering::SeqCst);
        Self::new(weights)
    }
    fn call(&mut self, batch: Vec<DigitFile>) -> Vec<Predicted> {
        Classifier {
            model: self.model.clone(),
        }
        .call(batch)
    }
}

#[test]
fn a_gpu_stage_without_a_gpu_falls_back_to_the_cpu_or_errors_when_told_to() {
    let devices = aqueduct::gpu::device_count();
    let weights = String::from("examples/data/digits_mlp.json");
    let predictions = |rows: Vec<Predicted>| -> std::collections::BTreeMap<String, i64> {
        rows.into_iter().map(|p| (p.path, p.predicted)).collect()
    };
    let cpu = pipeline! {
        read_images::<Digit>("examples/data/digits", include_paths = true)
        |> map_batches::<Predicted>(Placed, args = (weights.clone()), compute = actors(1))
    }
    .take_all()
    .unwrap();
    let placed = pipeline! {
        read_images::<Digit>("examples/data/digits", include_paths = true)
        |> map_batches::<Predicted>(Placed, args = (weights.clone()), compute = actors(2), num_gpus = 1)
    }
    .take_all()
    .unwrap();
    assert_eq!(predictions(placed), predictions(cpu));
    // Workers went on devices exactly when there are some.
    assert_eq!(ON_GPU.load(Ordering::SeqCst) > 0, devices > 0);

    let strict = pipeline! {
        read_images::<Digit>("examples/data/digits", include_paths = true)
        |> map_batches::<Predicted>(Placed, args = (weights), compute = actors(1), num_gpus = 1, cpu_fallback = false)
    }
    .count();
    if devices == 0 {
        let err = strict.unwrap_err().to_string();
        assert!(
            err.contains("needs 1 GPU(s) but this machine has 0")
                && err.contains("asked for no CPU fallback"),
            "{err}"
        );
    } else {
        assert_eq!(strict.unwrap(), 1797);
    }
}
