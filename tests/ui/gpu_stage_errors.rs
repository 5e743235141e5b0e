use aqueduct::prelude::*;

#[derive(Record, Clone)]
struct Reading {
    id: i64,
    x: f32,
    label: String,
    note: Option<f64>,
}

fn main() {
    let _gpu = pipeline! {
        from_items::<Reading>(Vec::new())
        |> with_columns(a = x.exp(), b = id / 2, c = label.len() as i32, d = note.unwrap_or(0.0), num_gpus = 1)
    };
}
