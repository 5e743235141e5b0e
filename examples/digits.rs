//! The Ray Data tutorial's digits pipeline, end to end: read the images with their paths,
//! normalize the pixels to [-1, 1] in a batch stage, classify them with an MLP that each
//! worker of a stateful stage loads once, take the true label from the folder, and compute the
//! accuracy per label with a groupby; write the table as parquet and print it.
//!
//! `cargo run --release --example digits` (the weights come from `train_digits`).

#[path = "digits/mlp.rs"]
mod mlp;

use aqueduct::pool::{BoxError, Stateful};
use aqueduct::prelude::*;
use mlp::Mlp;

/// An image as `read_images` decodes it (8×8, grayscale).
#[derive(Record, Debug, Clone)]
struct Digit {
    image: Tensor<u8, 8, 8>,
}

/// A digit with its path, as the pipeline has it after `read_images(.., include_paths = true)`.
#[derive(Record, Debug, Clone)]
struct DigitFile {
    image: Tensor<u8, 8, 8>,
    path: String,
}

/// Pixels in [-1, 1].
#[derive(Record, Debug, Clone)]
struct Normalized {
    pixels: Tensor<f32, 8, 8>,
    path: String,
}

/// The classifier's answer.
#[derive(Record, Debug, Clone)]
struct Predicted {
    path: String,
    predicted: i64,
}

/// The stateless batch stage: pixels to [-1, 1].
fn normalize(batch: Vec<DigitFile>) -> Vec<Normalized> {
    batch
        .into_iter()
        .map(|d| {
            let pixels = d
                .image
                .values()
                .iter()
                .map(|&p| mlp::normalize(p))
                .collect();
            Normalized {
                pixels: Tensor::new(pixels).expect("64 pixels in, 64 out"),
                path: d.path,
            }
        })
        .collect()
}

/// The stateful stage: each worker loads the weights once, then classifies every batch it gets.
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
        batch
            .into_iter()
            .map(|n| Predicted {
                predicted: self.model.predict(n.pixels.values()) as i64,
                path: n.path,
            })
            .collect()
    }
}

fn main() -> aqueduct::Result<()> {
    let weights = String::from("examples/data/digits_mlp.json");
    let accuracy = pipeline! {
        read_images::<Digit>("examples/data/digits", include_paths = true)
        |> map_batches::<Normalized>(normalize)
        |> map_batches::<Predicted>(Classifier, args = (weights), compute = actors(2), batch_size = 256)
        |> with_column(label: i64 = mlp::label_of(path))
        |> with_column(correct: f64 = if predicted == label { 1.0 } else { 0.0 })
        |> groupby(label)
        |> aggregate(images = count(), accuracy = mean(correct))
    };
    println!("{}\n", accuracy.explain());

    // Run once; print and write the same rows.
    let table = accuracy.materialize()?;
    table.show(10)?;
    let output = std::env::temp_dir().join("aqueduct-digits");
    let written = table.write_parquet(output.to_str().expect("a UTF-8 temp dir"))?;
    let rows = table.take_all()?;
    let images: u64 = rows.iter().map(|r| r.images).sum();
    let right: f64 = rows
        .iter()
        .map(|r| r.accuracy.unwrap_or(0.0) * r.images as f64)
        .sum();
    println!(
        "accuracy over all {images} images: {:.2}% (the model trained on 4 in 5 of them; `train_digits` prints its held-out accuracy)",
        right / images as f64 * 100.0
    );
    println!("wrote {} rows to {:?}", written.rows, written.files);
    if let Some(stats) = accuracy.stats() {
        println!("\nwhat the run did, per operator:\n{stats}");
    }
    Ok(())
}
