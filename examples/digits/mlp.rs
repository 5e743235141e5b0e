//! The digits classifier: a multilayer perceptron 64 → 128 (ReLU) → 10, its forward pass, and
//! its weights as JSON. Shared by `train_digits` (which fits it), `digits` (which serves it)
//! and the digits test: each uses part of it.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

pub const INPUTS: usize = 64;
pub const HIDDEN: usize = 128;
pub const CLASSES: usize = 10;

/// Weights, row-major: `w1[h * INPUTS + i]`, `w2[c * HIDDEN + h]`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Mlp {
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
}

impl Mlp {
    /// Small random weights (He initialisation) from `next`, a source of uniform [0, 1) values.
    pub fn random(mut next: impl FnMut() -> f32) -> Self {
        let mut uniform = |n: usize, fan_in: usize| -> Vec<f32> {
            let scale = (6.0 / fan_in as f32).sqrt();
            (0..n).map(|_| (next() * 2.0 - 1.0) * scale).collect()
        };
        Mlp {
            w1: uniform(HIDDEN * INPUTS, INPUTS),
            b1: vec![0.0; HIDDEN],
            w2: uniform(CLASSES * HIDDEN, HIDDEN),
            b2: vec![0.0; CLASSES],
        }
    }

    /// Load weights saved by [`Mlp::save`], checking every layer's size.
    pub fn load(path: &str) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
        let mlp: Mlp =
            serde_json::from_str(&text).map_err(|e| format!("`{path}` is not MLP weights: {e}"))?;
        for (name, got, want) in [
            ("w1", mlp.w1.len(), HIDDEN * INPUTS),
            ("b1", mlp.b1.len(), HIDDEN),
            ("w2", mlp.w2.len(), CLASSES * HIDDEN),
            ("b2", mlp.b2.len(), CLASSES),
        ] {
            if got != want {
                return Err(format!(
                    "`{path}`: layer `{name}` has {got} weights, the {INPUTS}→{HIDDEN}→{CLASSES} MLP needs {want}"
                ));
            }
        }
        Ok(mlp)
    }

    /// Save the weights as JSON.
    pub fn save(&self, path: &str) -> std::io::Result<()> {
        std::fs::write(
            path,
            serde_json::to_string(self).expect("weights serialize"),
        )
    }

    /// The hidden layer's activations and the output logits of one input.
    pub fn forward(&self, x: &[f32]) -> ([f32; HIDDEN], [f32; CLASSES]) {
        let mut hidden = [0.0f32; HIDDEN];
        for (h, out) in hidden.iter_mut().enumerate() {
            let row = &self.w1[h * INPUTS..(h + 1) * INPUTS];
            let sum: f32 = row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + self.b1[h];
            *out = sum.max(0.0);
        }
        let mut logits = [0.0f32; CLASSES];
        for (c, out) in logits.iter_mut().enumerate() {
            let row = &self.w2[c * HIDDEN..(c + 1) * HIDDEN];
            *out = row.iter().zip(&hidden).map(|(w, v)| w * v).sum::<f32>() + self.b2[c];
        }
        (hidden, logits)
    }

    /// The most likely digit.
    pub fn predict(&self, x: &[f32]) -> usize {
        let (_, logits) = self.forward(x);
        argmax(&logits)
    }
}

/// The index of the largest value (the first, on ties).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Pixels 0..=255 to [-1, 1], as the tutorial's `Normalize((0.5,), (0.5,))` after `ToTensor()`.
pub fn normalize(pixel: u8) -> f32 {
    pixel as f32 / 255.0 * 2.0 - 1.0
}

/// The digit a path names: `.../digits/<label>/<n>.png`.
pub fn label_of(path: &str) -> i64 {
    path.rsplit('/')
        .nth(1)
        .and_then(|dir| dir.parse().ok())
        .unwrap_or(-1)
}
