//! Aggregation against a careful hand-written arrow-rs baseline, measured in the same run on
//! the same files. Prints a table for BENCHMARKS.md.
//! `cargo run --release --example bench_groupby [rows]` (default 20,000,000 rows, 10 files).
//!
//! W1: parquet → filter(price > 10 && qty >= 2) → revenue = price × qty → groupby(category):
//!     sum(revenue), mean(price), count, max(qty) → parquet
//! G1: 1,000,000 rows in memory → groupby(category): sum, mean, count (a small job: a groupby
//!     of 1M rows should cost what its work costs, not a cluster's start-up).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aqueduct::prelude::*;
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

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

#[derive(Record, Debug, Clone, PartialEq)]
struct CategoryStats {
    category: String,
    revenue: f64,
    mean_price: Option<f64>,
    n: u64,
    max_qty: Option<i32>,
}

const FILES: usize = 10;

fn sale(i: usize) -> Sale {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    Sale {
        id: i as i64,
        // Uniform over 1,000,000 users: issue 15's W6 groups by it.
        user_id: (h % 1_000_000) as i64,
        // 60 categories, skewed.
        category: format!("category_{:02}", (h % 60) * (h % 7) / 6),
        price: (h % 20_000) as f64 / 100.0,
        qty: 1 + (h % 5) as i32,
        ts: chrono::DateTime::from_timestamp(1_700_000_000 + (i as i64 % 86_400_000), 0)
            .unwrap()
            .naive_utc(),
        note: h.is_multiple_of(9).then(|| format!("note {}", h % 1000)),
    }
}

fn generate(dir: &Path, rows: usize) {
    let per_file = rows / FILES;
    for file in 0..FILES {
        let start = file * per_file;
        let part = dir.join(format!("input/{file}"));
        pipeline! { from_items::<Sale>((start..start + per_file).map(sale).collect::<Vec<_>>()) }
            .write_parquet(part.to_str().unwrap())
            .unwrap();
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = (0..FILES)
        .flat_map(|f| std::fs::read_dir(dir.join(format!("input/{f}"))).unwrap())
        .map(|entry| entry.unwrap().path())
        // Data files only: a write also leaves its `_SUCCESS` marker.
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    files.sort();
    files
}

/// Per-category partial sums of the hand-written W1.
#[derive(Clone, Copy, Default)]
struct Acc {
    revenue: f64,
    price: f64,
    n: u64,
    max_qty: i32,
}

/// W1 by hand, as a strong engineer would write it: (file, row group) units claimed from an
/// atomic counter by each thread, each unit opened on its own; only the four columns decoded,
/// the category as parquet's dictionary (hash ~60 values per batch, then aggregate by key
/// index); a table per thread, merged at the end; the result written as parquet.
fn hand_w1(dir: &Path, out: &Path, threads: usize) -> Vec<CategoryStats> {
    let units: Vec<(PathBuf, usize)> = files(dir)
        .into_iter()
        .flat_map(|path| {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
                    .unwrap();
            let groups = reader.metadata().num_row_groups();
            (0..groups).map(move |g| (path.clone(), g))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let hint = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new(
            "category",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("price", DataType::Float64, false),
        Field::new("qty", DataType::Int32, false),
        Field::new(
            "ts",
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("note", DataType::Utf8, true),
    ]));
    let tables: Vec<HashMap<String, Acc>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut table: HashMap<String, Acc> = HashMap::new();
                    loop {
                        let unit = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, group)) = units.get(unit) else {
                            return table;
                        };
                        let options = ArrowReaderOptions::new().with_schema(hint.clone());
                        let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
                            std::fs::File::open(path).unwrap(),
                            options,
                        )
                        .unwrap();
                        let mask = ProjectionMask::columns(
                            builder.parquet_schema(),
                            ["category", "price", "qty"],
                        );
                        let reader = builder
                            .with_projection(mask)
                            .with_row_groups(vec![*group])
                            .with_batch_size(8192)
                            .build()
                            .unwrap();
                        for batch in reader {
                            let batch = batch.unwrap();
                            let category = batch
                                .column_by_name("category")
                                .unwrap()
                                .as_dictionary::<Int32Type>();
                            let names = category.values().as_string::<i32>();
                            let keys = category.keys().values();
                            let price = batch
                                .column_by_name("price")
                                .unwrap()
                                .as_primitive::<Float64Type>()
                                .values();
                            let qty = batch
                                .column_by_name("qty")
                                .unwrap()
                                .as_primitive::<Int32Type>()
                                .values();
                            let mut local = vec![
                                Acc {
                                    max_qty: i32::MIN,
                                    ..Acc::default()
                                };
                                names.len()
                            ];
                            for i in 0..batch.num_rows() {
                                if price[i] > 10.0 && qty[i] >= 2 {
                                    let acc = &mut local[keys[i] as usize];
                                    acc.revenue += price[i] * qty[i] as f64;
                                    acc.price += price[i];
                                    acc.n += 1;
                                    acc.max_qty = acc.max_qty.max(qty[i]);
                                }
                            }
                            for (k, acc) in local.iter().enumerate() {
                                if acc.n > 0 {
                                    let e = table.entry(names.value(k).to_owned()).or_insert(Acc {
                                        max_qty: i32::MIN,
                                        ..Acc::default()
                                    });
                                    e.revenue += acc.revenue;
                                    e.price += acc.price;
                                    e.n += acc.n;
                                    e.max_qty = e.max_qty.max(acc.max_qty);
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: HashMap<String, Acc> = HashMap::new();
    for table in tables {
        for (k, acc) in table {
            let e = all.entry(k).or_insert(Acc {
                max_qty: i32::MIN,
                ..Acc::default()
            });
            e.revenue += acc.revenue;
            e.price += acc.price;
            e.n += acc.n;
            e.max_qty = e.max_qty.max(acc.max_qty);
        }
    }
    let mut rows: Vec<CategoryStats> = all
        .into_iter()
        .map(|(category, acc)| CategoryStats {
            category,
            revenue: acc.revenue,
            mean_price: Some(acc.price / acc.n as f64),
            n: acc.n,
            max_qty: Some(acc.max_qty),
        })
        .collect();
    rows.sort_by(|a, b| a.category.cmp(&b.category));
    std::fs::create_dir_all(out).unwrap();
    let batch = CategoryStats::to_batch(&rows);
    let file = std::fs::File::create(out.join("part-00000-00000.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    rows
}

fn aqueduct_w1(dir: &Path, out: &Path) -> usize {
    let input = format!("{}/input/*/*.parquet", dir.display());
    let job = pipeline! {
        read_parquet::<Sale>(input)
        |> filter(price > 10 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> groupby(category)
        |> aggregate::<CategoryStats>(revenue = sum(revenue), mean_price = mean(price), n = count(), max_qty = max(qty))
        |> write_parquet(out.to_str().unwrap(), mode = overwrite)
    };
    job.run().unwrap().rows
}

/// G1 by hand: one table (a fast hasher, keys borrowed from the blocks) over the in-memory
/// rows, on one thread: for a million rows, threads would cost more than they save.
fn hand_g1(batches: &[RecordBatch]) -> usize {
    let mut table: HashMap<&str, (f64, u64), foldhash::fast::RandomState> = HashMap::default();
    for batch in batches {
        let category: &StringArray = batch.column_by_name("category").unwrap().as_string();
        let price = batch
            .column_by_name("price")
            .unwrap()
            .as_primitive::<Float64Type>()
            .values();
        for i in 0..batch.num_rows() {
            let e = table.entry(category.value(i)).or_default();
            e.0 += price[i];
            e.1 += 1;
        }
    }
    let mut rows: Vec<(&str, f64, f64, u64)> = table
        .into_iter()
        .map(|(k, (s, n))| (k, s, s / n as f64, n))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let sums: ArrayRef = Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1)));
    let counts: ArrayRef = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.3)));
    std::hint::black_box((sums, counts));
    rows.len()
}

fn aqueduct_g1(batches: &[RecordBatch]) -> usize {
    pipeline! {
        from_arrow::<Sale>(batches.to_vec())
        |> groupby(category)
        |> aggregate(total = sum(price), mean_price = mean(price), n = count())
    }
    .count()
    .unwrap()
}

/// The median time of one side, measured in a child process.
fn child(dir: &Path, side: &str) -> Duration {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BENCH_DIR", dir)
        .env("BENCH_SIDE", side)
        .output()
        .unwrap();
    assert!(output.status.success(), "{side}: {output:?}");
    let seconds: f64 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Duration::from_secs_f64(seconds)
}

fn median_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], last.expect("at least one run"))
}

/// Both sides run alternately (one run of each per round), so that drifting machine state
/// (page cache, allocator, clock boost) affects both alike; medians of each side.
fn interleaved<A, B>(
    runs: usize,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> ((Duration, A), (Duration, B)) {
    let (mut times_a, mut times_b) = (Vec::new(), Vec::new());
    let (mut last_a, mut last_b) = (None, None);
    for _ in 0..runs {
        let start = Instant::now();
        last_a = Some(a());
        times_a.push(start.elapsed());
        let start = Instant::now();
        last_b = Some(b());
        times_b.push(start.elapsed());
    }
    times_a.sort();
    times_b.sort();
    (
        (times_a[runs / 2], last_a.expect("a run")),
        (times_b[runs / 2], last_b.expect("a run")),
    )
}

fn row(name: &str, hand: Duration, ours: Duration) {
    println!(
        "| {name} | {:.3} s | {:.3} s | {:.2} |",
        hand.as_secs_f64(),
        ours.as_secs_f64(),
        ours.as_secs_f64() / hand.as_secs_f64()
    );
}

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .map_or(20_000_000, |a| a.parse().expect("a row count"));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // `BENCH_DIR=path` keeps the generated files there and reuses them on the next run.
    let kept = std::env::var("BENCH_DIR").ok().map(PathBuf::from);
    let temporary = tempfile::tempdir().unwrap();
    let dir = kept.as_deref().unwrap_or(temporary.path());
    // A child process times one side (`BENCH_SIDE=hand|aqueduct`), median of 5 runs.
    if let Ok(side) = std::env::var("BENCH_SIDE") {
        let (time, _) = match side.as_str() {
            "hand" => median_of(5, || hand_w1(dir, &dir.join("hand_w1"), threads).len()),
            _ => median_of(5, || aqueduct_w1(dir, &dir.join("aqueduct_w1"))),
        };
        println!("{}", time.as_secs_f64());
        return;
    }
    if !dir.join("input").exists() {
        generate(dir, rows);
    }
    let rounds = 5;
    println!(
        "{rows} rows in {FILES} parquet files, {threads} threads; W1: each side in its own process, \
         {rounds} rounds alternating the sides, the median of each process's median of 5 runs\n"
    );
    println!("| workload | hand-written arrow-rs | aqueduct | aqueduct / hand |");
    println!("|---|---|---|---|");
    // Check the results agree, then time each side in processes of its own: in one process,
    // each side's allocations change the other's timing (glibc's heap).
    let expected = hand_w1(dir, &dir.join("hand_w1"), threads);
    let groups = aqueduct_w1(dir, &dir.join("aqueduct_w1"));
    let (mut hand_times, mut our_times) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        hand_times.push(child(dir, "hand"));
        our_times.push(child(dir, "aqueduct"));
    }
    hand_times.sort();
    our_times.sort();
    let (hand, ours) = (hand_times[rounds / 2], our_times[rounds / 2]);
    let runs = 9;
    let out = format!("{}/aqueduct_w1", dir.display());
    let got = pipeline! { read_parquet::<CategoryStats>(out) }
        .take_all()
        .unwrap();
    assert_eq!(groups, expected.len());
    for (a, b) in got.iter().zip(&expected) {
        assert_eq!((&a.category, a.n, a.max_qty), (&b.category, b.n, b.max_qty));
        assert!((a.revenue - b.revenue).abs() <= 1e-9 * b.revenue.abs());
    }
    row(
        "W1 parquet → filter → revenue → groupby(category) 4 aggregates → parquet",
        hand,
        ours,
    );

    let memory: Vec<RecordBatch> = (0..1_000_000)
        .collect::<Vec<usize>>()
        .chunks(8192)
        .map(|c| Sale::to_batch(&c.iter().map(|&i| sale(i)).collect::<Vec<_>>()))
        .collect();
    let ((hand, hand_groups), (ours, our_groups)) =
        interleaved(runs, || hand_g1(&memory), || aqueduct_g1(&memory));
    assert_eq!(hand_groups, our_groups);
    row(
        "G1 1M rows in memory → groupby(category) sum, mean, count",
        hand,
        ours,
    );
}
