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
