//! The Ray Data tutorial's digits pipeline, end to end: read the images with their paths,
//! normalize the pixels to [-1, 1] (a column stage that the compiler also lowers to a GPU
//! kernel), classify them with an MLP that each
//! worker of a stateful stage loads once (on a GPU with `--features cuda` where there is one;
//! on the CPU otherwise), take the true label from the folder, and compute the
//! accuracy per label with a groupby; write the table as parquet and print it.
//!
//! `cargo run --release --example digits` (the weights come from `train_digits`);
//! `cargo run --release --features cuda --example digits` to use a GPU.

#[path = "digits/mlp.rs"]
mod mlp;

#[cfg(feature = "cuda")]
#[path = "digits/gpu.rs"]
mod gpu;

use aqueduct::pool::{BoxError, Stateful};
use aqueduct::prelude::*;
use mlp::Mlp;

/// An image as `read_images` decodes it (8×8, grayscale).
#[derive(Record, Debug, Clone)]
struct Digit {
    image: Tensor<u8, 8, 8>,
}

/// Pixels in [-1, 1], with the image's path.
#[derive(Record, Debug, Clone)]
struct Normalized {
    path: String,
    pixels: Tensor<f32, 8, 8>,
}

/// The classifier's answer.
#[derive(Record, Debug, Clone)]
struct Predicted {
    path: String,
    predicted: i64,
}

/// The stateful stage: each worker loads the weights once, then classifies every batch it
/// gets — on its GPU when the pool placed it on one (`num_gpus = 1`, built with the `cuda`
/// feature), else on the CPU. Both give the same predictions.
struct Classifier {
    model: Model,
}

enum Model {
    Cpu(Mlp),
    #[cfg(feature = "cuda")]
    Gpu(Box<gpu::GpuMlp>),
}

impl Stateful for Classifier {
    type Args = String;
    type Batch = Vec<Normalized>;
    type Output = Result<Vec<Predicted>, BoxError>;

    fn new(weights: String) -> Result<Self, BoxError> {
        Ok(Classifier {
            model: Model::Cpu(Mlp::load(&weights)?),
        })
    }

    #[cfg(feature = "cuda")]
    fn new_on_gpus(weights: String, devices: &[usize]) -> Result<Self, BoxError> {
        let model = Mlp::load(&weights)?;
        Ok(Classifier {
            model: Model::Gpu(Box::new(gpu::GpuMlp::new(
                devices[0],
                &model,
                gpu::DEVICE_MEMORY,
            )?)),
        })
    }

    fn call(&mut self, batch: Vec<Normalized>) -> Result<Vec<Predicted>, BoxError> {
        let predicted: Vec<i64> = match &mut self.model {
            Model::Cpu(model) => batch
                .iter()
                .map(|n| model.predict(n.pixels.values()) as i64)
                .collect(),
            #[cfg(feature = "cuda")]
            Model::Gpu(model) => model
                .predict_images(batch.iter().map(|n| n.pixels.values()))?
                .into_iter()
                .map(i64::from)
                .collect(),
        };
        Ok(batch
            .into_iter()
            .zip(predicted)
            .map(|(n, predicted)| Predicted {
                predicted,
                path: n.path,
            })
            .collect())
    }
}

fn main() -> aqueduct::Result<()> {
    let weights = String::from("examples/data/digits_mlp.json");
    let accuracy = pipeline! {
        read_images::<Digit>("examples/data/digits", include_paths = true)
        // Pixels to [-1, 1] as `mlp::normalize` does, compiled to a GPU kernel too.
        |> with_columns(pixels: Tensor<f32, 8, 8> = image as f32 / 255.0 * 2.0 - 1.0, num_gpus = 1)
        |> drop(image)
        |> map_batches::<Predicted>(Classifier, args = (weights), compute = actors(2), num_gpus = 1, batch_size = 256)
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
    let written = table
        .clone()
        .with_write_mode(WriteMode::Overwrite)
        .write_parquet(output.to_str().expect("a UTF-8 temp dir"))?;
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
