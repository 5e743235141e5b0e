//! Bounded memory: a pipeline over input many times larger than its memory budget runs with
//! peak RSS near the budget, not near the input — streaming, and all-to-all operators that
//! spill (a groupby with millions of keys, a sort of the whole input). Generates the input
//! (deterministic; nothing is committed), then runs each workload in a fresh child process and
//! reports its peak RSS.
//!
//! `cargo run --release --example bench_memory [rows] [budget]`
//! (defaults: 30,000,000 rows, 64MiB).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone)]
struct Sale {
    id: i64,
    user_id: i64,
    category: String,
    price: f64,
    qty: i32,
    note: Option<String>,
}

const ROWS_PER_FILE: usize = 500_000;

fn generate(dir: &Path, rows: usize) {
    for file in 0..rows.div_ceil(ROWS_PER_FILE) {
        let start = file * ROWS_PER_FILE;
        let sales: Vec<Sale> = (start..(start + ROWS_PER_FILE).min(rows))
            .map(|i| {
                let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
                Sale {
                    id: i as i64,
                    user_id: (h % 100_000) as i64,
                    category: format!("category_{:02}", h % 60),
                    price: (h % 20_000) as f64 / 100.0,
                    qty: 1 + (h % 5) as i32,
                    note: h.is_multiple_of(9).then(|| format!("note {}", h % 1000)),
                }
            })
            .collect();
        let part = dir.join(format!("input/{file:04}"));
        pipeline! { from_items::<Sale>(sales) }
            .write_parquet(part.to_str().unwrap())
            .unwrap();
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// In the child: run one workload under `budget` and print `seconds rows peak_rss_mib`.
fn child(workload: &str, dir: &str, budget: usize) {
    let input = format!("{dir}/input/*/*.parquet");
    let start = Instant::now();
    let rows = match workload {
        "w2" => {
            let output = format!("{dir}/out_w2");
            let job = pipeline! {
                read_parquet::<Sale>(input)
                |> with_column(z = (price - 100.0) / 50.0)
                |> drop(note)
                |> write_parquet(output, mode = overwrite)
            };
            job.run_with(aqueduct::ExecOptions {
                memory_budget: budget,
                ..Default::default()
            })
            .unwrap()
            .rows
        }
        "groupby" => {
            // A key per four rows: millions of groups, spilled and merged per partition.
            let output = format!("{dir}/out_groupby");
            let job = pipeline! {
                read_parquet::<Sale>(input)
                |> with_column(bucket = id / 4)
                |> groupby(bucket)
                |> aggregate(n = count(), total = sum(price), top = max(qty))
                |> write_parquet(output, mode = overwrite)
            };
            job.run_with(aqueduct::ExecOptions {
                memory_budget: budget,
                ..Default::default()
            })
            .unwrap()
            .rows
        }
        "sort" => {
            let output = format!("{dir}/out_sort");
            let job = pipeline! {
                read_parquet::<Sale>(input)
                |> sort(desc(price), id)
                |> write_parquet(output, mode = overwrite)
            };
            job.run_with(aqueduct::ExecOptions {
                memory_budget: budget,
                ..Default::default()
            })
            .unwrap()
            .rows
        }
        _ => {
            // Streaming to the consumer: the budget bounds the blocks between workers and it.
            let ds = pipeline! {
                read_parquet::<Sale>(input)
                |> filter(price > 10 && qty >= 2)
                |> with_column(revenue = price * qty as f64)
                |> select(id, category, revenue)
            }
            .with_memory_budget(budget);
            let mut rows = 0;
            for block in ds.iter_blocks().unwrap() {
                rows += block.unwrap().num_rows();
                // A slow consumer, so that the workers run into the budget.
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            rows
        }
    };
    println!(
        "{} {rows} {}",
        start.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(&args[2], &args[3], args[4].parse().unwrap());
    }
    let rows: usize = args
        .get(1)
        .map_or(30_000_000, |a| a.parse().expect("a row count"));
    let budget = args.get(2).map_or(64 << 20, |b| {
        aqueduct::parse_bytes(b).expect("a size such as 64MiB")
    });
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), rows);
    let input_bytes: u64 = walk(&dir.path().join("input"));
    let in_memory: usize = {
        // The in-memory size of the input, measured on one file and scaled.
        let one = pipeline! { read_parquet::<Sale>(format!("{}/input/0000/*.parquet", dir.path().display())) };
        let sample: usize = one
            .to_arrow()
            .unwrap()
            .iter()
            .map(|b| b.get_array_memory_size())
            .sum();
        sample * rows.div_ceil(ROWS_PER_FILE)
    };
    println!(
        "{rows} rows: {:.0} MiB of parquet, about {:.0} MiB in memory as Arrow; memory budget {:.0} MiB\n",
        input_bytes as f64 / (1 << 20) as f64,
        in_memory as f64 / (1 << 20) as f64,
        budget as f64 / (1 << 20) as f64
    );
    println!("| workload | time | rows | peak RSS |");
    println!("|---|---|---|---|");
    for (name, workload) in [
        ("parquet → filter → revenue → slow consumer", "stream"),
        ("W2 parquet → z-score → parquet", "w2"),
        (
            "parquet → groupby(id / 4): count, sum, max → parquet",
            "groupby",
        ),
        ("parquet → sort(desc(price), id) → parquet", "sort"),
    ] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--child",
                workload,
                dir.path().to_str().unwrap(),
                &budget.to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.split_whitespace().collect();
        println!(
            "| {name} | {:.2} s | {} | {:.0} MiB |",
            fields[0].parse::<f64>().unwrap(),
            fields[1],
            fields[2].parse::<f64>().unwrap()
        );
    }
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                path.metadata().unwrap().len()
            }
        })
        .sum()
}
