//! W5 and W6 of BENCHMARKS.md (issue 15), one side at a time, for timing and profiling:
//! W5: the sales table → sort(desc(price), id) → parquet;
//! W6: the sales table → groupby(user_id): count, sum(price), max(qty) → parquet.
//!
//! `cargo run --release --example bench_all_to_all -- w5|w6 INPUT_DIR OUTPUT_DIR [runs]`,
//! where INPUT_DIR holds the sales table as parquet (`BENCH_DIR=dir cargo run --release
//! --example bench_groupby` writes it to `dir/input`). Prints each run's seconds, then the
//! median and the peak RSS of the process.

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
struct UserStats {
    user_id: i64,
    n: u64,
    spent: f64,
    max_qty: Option<i32>,
}

fn w5(input: &str, out: &str) -> usize {
    let (input, out) = (input.to_owned(), out.to_owned());
    pipeline! {
        read_parquet::<Sale>(input)
        |> sort(desc(price), id)
        |> write_parquet(out, mode = overwrite)
    }
    .run()
    .unwrap()
    .rows
}

fn w6(input: &str, out: &str) -> usize {
    let (input, out) = (input.to_owned(), out.to_owned());
    pipeline! {
        read_parquet::<Sale>(input)
        |> groupby(user_id)
        |> aggregate::<UserStats>(n = count(), spent = sum(price), max_qty = max(qty))
        |> write_parquet(out, mode = overwrite)
    }
    .run()
    .unwrap()
    .rows
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, input, out, rest @ ..] = args.as_slice() else {
        eprintln!("usage: bench_all_to_all w5|w6 INPUT_DIR OUTPUT_DIR [runs]");
        std::process::exit(2);
    };
    let runs: usize = rest.first().map_or(3, |r| r.parse().expect("a run count"));
    let input = format!("{input}/*/*.parquet");
    let run = match workload.as_str() {
        "w5" => w5,
        "w6" => w6,
        other => panic!("unknown workload `{other}`: w5 or w6"),
    };
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let rows = run(&input, out);
            let time = start.elapsed();
            println!("{workload}: {rows} rows out in {:.3} s", time.as_secs_f64());
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
