//! A pipeline with a GPU column stage against the same expressions on the CPU, on random
//! values with the edge cases mixed in (NaN, infinities, −0.0, values past every integer
//! type's range): every output column must be identical, bit for bit (any NaN counting as
//! one, and the zeros of `min`/`max` as one: Rust promises neither). Where there is a GPU
//! (and the `cuda` feature) the stage runs its emitted kernel; elsewhere its CPU fallback.
//! Shared by `tests/gpu_stages.rs` (any machine) and `tests/gpu.rs` (device checks).

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
pub struct Reading {
    pub x: f32,
    pub y: f64,
    pub n: i32,
    pub small: u8,
    pub tiny: i8,
    pub big: u64,
}

/// A float's bits, with every NaN as one: NaN payloads are not part of what Rust or PTX
/// promise (x86 propagates an operand's payload, the GPU gives a canonical NaN).
fn f64_bits(v: f64) -> u64 {
    if v.is_nan() { u64::MAX } else { v.to_bits() }
}

fn f32_bits(v: f32) -> u64 {
    f64_bits(v as f64)
}

/// A row's computed columns as bits. `m` comes from `min`/`max`, which may return either zero
/// of +0 and −0 (Rust's documentation promises nothing there): its zeros count as one.
macro_rules! bits {
    ($r:expr) => {
        [
            f32_bits($r.a),
            f64_bits($r.b),
            $r.c as u64,
            $r.d as u64,
            f32_bits($r.e),
            $r.f as u64,
            $r.g as u64,
            $r.hot as u64,
            f64_bits($r.pick),
            f32_bits($r.m + 0.0),
            f64_bits($r.r),
            $r.k as u64,
            $r.w as u64,
            f32_bits($r.x),
        ]
    };
}

const NAMES: [&str; 14] = [
    "a", "b", "c", "d", "e", "f", "g", "hot", "pick", "m", "r", "k", "w", "x",
];

/// `rows` readings from a fixed seed, one in eight an edge value.
pub fn readings(rows: usize) -> Vec<Reading> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let edges_f64 = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1e300,
        -1e300,
        255.5,
        -128.7,
        4e9,
    ];
    let edges_f32 = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.0,
        3e38,
        -3e38,
        300.0,
        -129.5,
    ];
    (0..rows)
        .map(|_| {
            let edge = next() % 8 == 0;
            let pick = next() as usize;
            Reading {
                x: if edge {
                    edges_f32[pick % edges_f32.len()]
                } else {
                    ((next() % 2_000_000) as f32 - 1_000_000.0) / 997.0
                },
                y: if edge {
                    edges_f64[pick % edges_f64.len()]
                } else {
                    ((next() % 20_000_000) as f64 - 10_000_000.0) / 7919.0
                },
                n: next() as i32,
                small: next() as u8,
                tiny: next() as i8,
                big: next(),
            }
        })
        .collect()
}

/// The stage on the GPU (or its fallback) and on the CPU; `Err` describes the first
/// difference.
pub fn compare(rows: usize) -> Result<(), String> {
    let input = readings(rows);
    let options = aqueduct::ExecOptions {
        preserve_order: true,
        ..aqueduct::ExecOptions::default()
    };
    let gpu: Vec<[u64; 14]> = pipeline! {
        from_items::<Reading>(input.clone())
        |> with_columns(
            a = x * 2.5 - 1.0, b = y / (y + 3.0), c = y as u8, d = x as i64, e = n as f32,
            f = (tiny as i64 * 3) as u64, g = big as i8, hot = x > 30.0 && n != 3,
            pick: f64 = if n > 0 { y } else { -y }, m = x.min(y as f32).max(-5.0),
            r = y.abs().sqrt(), k = n.abs() - 1, w = small.max(3) - 3,
            num_gpus = 1
        )
    }
    .with_options(options.clone())
    .take_all()
    .map_err(|e| e.to_string())?
    .iter()
    .map(|r| bits!(r))
    .collect();
    let cpu: Vec<[u64; 14]> = pipeline! {
        from_items::<Reading>(input)
        |> with_columns(
            a = x * 2.5 - 1.0, b = y / (y + 3.0), c = y as u8, d = x as i64, e = n as f32,
            f = (tiny as i64 * 3) as u64, g = big as i8, hot = x > 30.0 && n != 3,
            pick: f64 = if n > 0 { y } else { -y }, m = x.min(y as f32).max(-5.0),
            r = y.abs().sqrt(), k = n.abs() - 1, w = small.max(3) - 3
        )
    }
    .with_options(options)
    .take_all()
    .map_err(|e| e.to_string())?
    .iter()
    .map(|r| bits!(r))
    .collect();
    if gpu.len() != rows || cpu.len() != rows {
        return Err(format!("{} and {} rows for {rows}", gpu.len(), cpu.len()));
    }
    for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        if let Some(column) = (0..NAMES.len()).find(|&k| g[k] != c[k]) {
            return Err(format!(
                "row {i}, column `{}`: GPU bits {:#x}, CPU bits {:#x} (input {:?})",
                NAMES[column],
                g[column],
                c[column],
                readings(rows)[i]
            ));
        }
    }
    Ok(())
}

#[derive(Record, Debug, Clone, PartialEq)]
pub struct Image {
    pub image: Tensor<u8, 8, 8>,
    pub depth: Tensor<f32, 8, 8>,
}

/// `rows` images of random pixels and depths (NaN and infinities mixed in).
pub fn images(rows: usize) -> Vec<Image> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..rows)
        .map(|_| Image {
            image: Tensor::new((0..64).map(|_| next() as u8).collect()).unwrap(),
            depth: Tensor::new(
                (0..64)
                    .map(|_| match next() % 16 {
                        0 => f32::NAN,
                        1 => f32::INFINITY,
                        _ => (next() % 100_000) as f32 / 37.0 - 1000.0,
                    })
                    .collect(),
            )
            .unwrap(),
        })
        .collect()
}

/// A stage over tensors on the GPU (or its fallback) and on the CPU, element by element
/// (the digits normalize step, and arithmetic mixing two tensors).
pub fn compare_tensors(rows: usize) -> Result<(), String> {
    let input = images(rows);
    let options = aqueduct::ExecOptions {
        preserve_order: true,
        ..aqueduct::ExecOptions::default()
    };
    let flat = |pixels: &[f32], scaled: &[f32]| -> Vec<u64> {
        pixels.iter().chain(scaled).map(|v| f32_bits(*v)).collect()
    };
    let gpu: Vec<Vec<u64>> = pipeline! {
        from_items::<Image>(input.clone())
        |> with_columns(
            pixels: Tensor<f32, 8, 8> = image as f32 / 255.0 * 2.0 - 1.0,
            scaled: Tensor<f32, 8, 8> = depth * (image as f32) + 0.5,
            num_gpus = 1
        )
    }
    .with_options(options.clone())
    .take_all()
    .map_err(|e| e.to_string())?
    .iter()
    .map(|r| flat(r.pixels.values(), r.scaled.values()))
    .collect();
    let cpu: Vec<Vec<u64>> = pipeline! {
        from_items::<Image>(input.clone())
        |> with_columns(
            pixels: Tensor<f32, 8, 8> = image as f32 / 255.0 * 2.0 - 1.0,
            scaled: Tensor<f32, 8, 8> = depth * (image as f32) + 0.5
        )
    }
    .with_options(options)
    .take_all()
    .map_err(|e| e.to_string())?
    .iter()
    .map(|r| flat(r.pixels.values(), r.scaled.values()))
    .collect();
    // And both as plain Rust computes them.
    let expected: Vec<Vec<u64>> = input
        .iter()
        .map(|r| {
            let pixels: Vec<f32> = r
                .image
                .values()
                .iter()
                .map(|&p| p as f32 / 255.0 * 2.0 - 1.0)
                .collect();
            let scaled: Vec<f32> = r
                .image
                .values()
                .iter()
                .zip(r.depth.values())
                .map(|(&p, &d)| d * p as f32 + 0.5)
                .collect();
            flat(&pixels, &scaled)
        })
        .collect();
    if cpu != expected {
        return Err("the CPU stage over tensors differs from plain Rust".into());
    }
    if let Some(row) = (0..rows).find(|&i| gpu[i] != cpu[i]) {
        return Err(format!(
            "row {row} differs between the GPU stage and the CPU"
        ));
    }
    Ok(())
}
