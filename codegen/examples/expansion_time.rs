//! How long `pipeline!` takes to expand the quickstart's pipeline: both expansions (the first
//! asks the record for its schema, the second compiles the plan), timed as library calls.
//! `cargo run --release -p aqueduct-codegen --example expansion_time`

use std::time::{Duration, Instant};

use proc_macro2::TokenStream;

const PIPELINE: &str = r#"
    read_parquet::<Sale>("examples/data/sales/*.parquet")
    |> filter(price > 10 && qty >= 2)
    |> with_column(revenue = price * qty as f64)
    |> with_column(gift = note.is_not_null())
    |> select(id, category, revenue, gift)
"#;

const SCHEMA: &str = "@aqueduct_schemas { [Sale] { id: i64, user_id: i64, category: String, price: f64, qty: i32, ts: DateTime<Utc>, note: Option<String>, } }";

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(input: &str, runs: usize) -> (Duration, usize) {
    let tokens: TokenStream = input.parse().expect("valid tokens");
    let mut size = 0;
    let timings = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = aqueduct_codegen::pipeline(tokens.clone());
            let elapsed = start.elapsed();
            size = out.to_string().len();
            elapsed
        })
        .collect();
    (median(timings), size)
}

fn main() {
    let runs = 200;
    let (ask, _) = time(PIPELINE, runs);
    let (compile, size) = time(&format!("{SCHEMA} {PIPELINE}"), runs);
    println!("| expansion | median of {runs} | output |");
    println!("|---|---|---|");
    println!(
        "| 1st: ask `Sale` for its schema | {:.3} ms | |",
        ask.as_secs_f64() * 1e3
    );
    println!(
        "| 2nd: check, optimise, emit | {:.3} ms | {size} characters of Rust |",
        compile.as_secs_f64() * 1e3
    );
    println!(
        "| total | {:.3} ms | |",
        (ask + compile).as_secs_f64() * 1e3
    );
}
