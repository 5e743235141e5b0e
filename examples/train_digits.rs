//! Train the digits classifier the `digits` example serves: an MLP 64 → 128 (ReLU) → 10 fitted
//! with mini-batch SGD and momentum on the images in `examples/data/digits`, read through an
//! aqueduct pipeline. Every fifth image (by file number) is held out; the accuracy on it is
//! printed beside the training accuracy. Deterministic (fixed seed).
//!
//! `cargo run --release --example train_digits` writes `examples/data/digits_mlp.json`.

#[path = "digits/mlp.rs"]
mod mlp;

use aqueduct::prelude::*;
use mlp::{CLASSES, HIDDEN, INPUTS, Mlp};

#[derive(Record, Debug, Clone)]
struct Digit {
    image: Tensor<u8, 8, 8>,
}

const EPOCHS: usize = 60;
const BATCH: usize = 32;
const LEARNING_RATE: f32 = 0.05;
const MOMENTUM: f32 = 0.9;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let images = pipeline! { read_images::<Digit>("examples/data/digits", include_paths = true) }
        .with_preserve_order(true)
        .take_all()?;
    let samples: Vec<(Vec<f32>, usize, bool)> = images
        .iter()
        .map(|row| {
            let x: Vec<f32> = row
                .image
                .values()
                .iter()
                .map(|&p| mlp::normalize(p))
                .collect();
            let label = mlp::label_of(&row.path) as usize;
            let number: usize = row
                .path
                .rsplit('/')
                .next()
                .and_then(|f| f.trim_end_matches(".png").parse().ok())
                .unwrap_or(0);
            (x, label, number.is_multiple_of(5))
        })
        .collect();
    let train: Vec<&(Vec<f32>, usize, bool)> = samples.iter().filter(|s| !s.2).collect();
    let held_out: Vec<&(Vec<f32>, usize, bool)> = samples.iter().filter(|s| s.2).collect();

    // A small xorshift generator: reproducible without another dependency.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut model = Mlp::random(&mut next);
    let mut velocity = Mlp {
        w1: vec![0.0; model.w1.len()],
        b1: vec![0.0; model.b1.len()],
        w2: vec![0.0; model.w2.len()],
        b2: vec![0.0; model.b2.len()],
    };
    let mut order: Vec<usize> = (0..train.len()).collect();
    for epoch in 0..EPOCHS {
        for i in (1..order.len()).rev() {
            let j = (next() * (i + 1) as f32) as usize % (i + 1);
            order.swap(i, j);
        }
        let mut loss = 0.0;
        for batch in order.chunks(BATCH) {
            let mut grad = Mlp {
                w1: vec![0.0; model.w1.len()],
                b1: vec![0.0; model.b1.len()],
                w2: vec![0.0; model.w2.len()],
                b2: vec![0.0; model.b2.len()],
            };
            for &k in batch {
                let (x, label, _) = train[k];
                loss += backprop(&model, x, *label, &mut grad);
            }
            let scale = LEARNING_RATE / batch.len() as f32;
            for (p, (v, g)) in [
                (&mut model.w1, (&mut velocity.w1, &grad.w1)),
                (&mut model.b1, (&mut velocity.b1, &grad.b1)),
                (&mut model.w2, (&mut velocity.w2, &grad.w2)),
                (&mut model.b2, (&mut velocity.b2, &grad.b2)),
            ] {
                for ((p, v), g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
                    *v = MOMENTUM * *v - scale * g;
                    *p += *v;
                }
            }
        }
        if epoch % 10 == 9 {
            println!(
                "epoch {:>2}: mean loss {:.4}",
                epoch + 1,
                loss / train.len() as f32
            );
        }
    }
    let accuracy = |set: &[&(Vec<f32>, usize, bool)]| {
        let right = set
            .iter()
            .filter(|(x, y, _)| model.predict(x) == *y)
            .count();
        right as f64 / set.len() as f64
    };
    println!(
        "training accuracy {:.2}% on {} images; held-out accuracy {:.2}% on {} images",
        accuracy(&train) * 100.0,
        train.len(),
        accuracy(&held_out) * 100.0,
        held_out.len()
    );
    let path = "examples/data/digits_mlp.json";
    model.save(path)?;
    println!("wrote {path}");
    Ok(())
}

/// Add the gradient of the cross-entropy loss of one sample to `grad`; returns the loss.
fn backprop(model: &Mlp, x: &[f32], label: usize, grad: &mut Mlp) -> f32 {
    let (hidden, logits) = model.forward(x);
    let max = logits.iter().cloned().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f32 = exp.iter().sum();
    // d loss / d logit = softmax − one-hot.
    let d_logits: Vec<f32> = exp
        .iter()
        .enumerate()
        .map(|(c, e)| e / total - if c == label { 1.0 } else { 0.0 })
        .collect();
    let mut d_hidden = [0.0f32; HIDDEN];
    for (c, d) in d_logits.iter().enumerate() {
        grad.b2[c] += d;
        let weights = &model.w2[c * HIDDEN..(c + 1) * HIDDEN];
        let grads = &mut grad.w2[c * HIDDEN..(c + 1) * HIDDEN];
        for ((g, w), (h, dh)) in grads
            .iter_mut()
            .zip(weights)
            .zip(hidden.iter().zip(d_hidden.iter_mut()))
        {
            *g += d * h;
            *dh += d * w;
        }
    }
    for (h, (&activation, &dh)) in hidden.iter().zip(&d_hidden).enumerate() {
        if activation <= 0.0 {
            continue;
        }
        grad.b1[h] += dh;
        for (g, xi) in grad.w1[h * INPUTS..(h + 1) * INPUTS].iter_mut().zip(x) {
            *g += dh * xi;
        }
    }
    debug_assert_eq!(d_logits.len(), CLASSES);
    -(exp[label] / total).ln()
}
