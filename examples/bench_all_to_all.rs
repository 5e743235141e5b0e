//! W5 and W6 of BENCHMARKS.md (issue 15), one side at a time, for timing and profiling:
//! W5: the sales table → sort(desc(price), id) → parquet;
//! W6: the sales table → groupby(user_id): count, sum(price), max(qty) → parquet;
//! and, to time them the same way (in an S3 server, say), `bench_groupby`'s W1 (filter →
//! revenue → groupby(category) → parquet) and `bench`'s W2 (z-score, drop note → parquet).
//!
//! `cargo run --release --example bench_all_to_all -- w1|w2|w5|w6 INPUT_DIR OUTPUT_DIR [runs]`,
//! where INPUT_DIR holds the sales table as parquet (`BENCH_DIR=dir cargo run --release
//! --example bench_groupby` writes it to `dir/input`); both may be URLs (`s3://bucket/dir`).
//! Prints each run's seconds and what the source fetched from a remote store, then the median
//! and the peak RSS of the process.

use std::time::{Duration, Instant};

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone)]
struct Sale {
    id: i64,
    user_id: i64,
    category: String,
    price: f64,
    qty: i32,
    ts: chrono::NaiveDateTime,
    note: Option<String>,
}

#[derive(Record, Debug, Clone)]
struct CategoryStats {
    category: String,
    revenue: f64,
    mean_price: Option<f64>,
    n: u64,
    max_qty: Option<i32>,
}

#[derive(Record, Debug, Clone)]
struct UserStats {
    user_id: i64,
    n: u64,
    spent: f64,
    max_qty: Option<i32>,
}

/// Runs `job` once: the rows out, and what its source fetched.
fn finish<R: Record>(job: Write<R>) -> (usize, Option<aqueduct::Fetched>) {
    let rows = job.run().unwrap().rows;
    let fetched = job
        .dataset()
        .stats()
        .and_then(|s| s.operators.first().and_then(|o| o.fetched));
    (rows, fetched)
}

fn w1(input: &str, out: &str) -> (usize, Option<aqueduct::Fetched>) {
    let (input, out) = (input.to_owned(), out.to_owned());
    finish(pipeline! {
        read_parquet::<Sale>(input)
        |> filter(price > 10 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> groupby(category)
        |> aggregate::<CategoryStats>(revenue = sum(revenue), mean_price = mean(price), n = count(), max_qty = max(qty))
        |> write_parquet(out, mode = overwrite)
    })
}

fn w2(input: &str, out: &str) -> (usize, Option<aqueduct::Fetched>) {
    let (input, out) = (input.to_owned(), out.to_owned());
    finish(pipeline! {
        read_parquet::<Sale>(input)
        |> with_column(z = (price - 100.0) / 50.0)
        |> drop(note)
        |> write_parquet(out, mode = overwrite)
    })
}

fn w5(input: &str, out: &str) -> (usize, Option<aqueduct::Fetched>) {
    let (input, out) = (input.to_owned(), out.to_owned());
    finish(pipeline! {
        read_parquet::<Sale>(input)
        |> sort(desc(price), id)
        |> write_parquet(out, mode = overwrite)
    })
}

fn w6(input: &str, out: &str) -> (usize, Option<aqueduct::Fetched>) {
    let (input, out) = (input.to_owned(), out.to_owned());
    finish(pipeline! {
        read_parquet::<Sale>(input)
        |> groupby(user_id)
        |> aggregate::<UserStats>(n = count(), spent = sum(price), max_qty = max(qty))
        |> write_parquet(out, mode = overwrite)
    })
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, input, out, rest @ ..] = args.as_slice() else {
        eprintln!("usage: bench_all_to_all w1|w2|w5|w6 INPUT_DIR OUTPUT_DIR [runs]");
        std::process::exit(2);
    };
    let runs: usize = rest.first().map_or(3, |r| r.parse().expect("a run count"));
    let input = format!("{input}/*/*.parquet");
    let run = match workload.as_str() {
        "w1" => w1,
        "w2" => w2,
        "w5" => w5,
        "w6" => w6,
        other => panic!("unknown workload `{other}`: w1, w2, w5 or w6"),
    };
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let (rows, fetched) = run(&input, out);
            let time = start.elapsed();
            println!("{workload}: {rows} rows out in {:.3} s", time.as_secs_f64());
            if let Some(f) = fetched {
                println!(
                    "  fetched {} of {} bytes in {} requests, {} entries listed",
                    f.bytes, f.object_bytes, f.requests, f.listed
                );
            }
            time
        })
        .collect();
    times.sort();
    println!(
        "{workload}: median {:.3} s over {runs} runs, peak RSS {:.0} MiB",
        times[runs / 2].as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
