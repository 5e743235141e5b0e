//! Throughput of fused pipelines against a careful hand-written arrow-rs baseline, measured in
//! the same run on the same files. Prints a table for BENCHMARKS.md.
//! `cargo run --release --example bench [rows]` (default 4,000,000 rows in 8 parquet files).
//!
//! W1' : parquet → filter(price > 10 && qty >= 2) → revenue = price × qty → count
//! W2  : parquet → z = (price − 100) / 50, drop note → parquet

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aqueduct::prelude::*;
use arrow::array::{ArrayRef, AsArray, Float64Array, UInt32Array};
use arrow::datatypes::{Float64Type, Int32Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

#[derive(Record, Debug, Clone)]
struct Sale {
    id: i64,
    user_id: i64,
    category: String,
    price: f64,
    qty: i32,
    note: Option<String>,
}

const FILES: usize = 8;

fn generate(dir: &Path, rows: usize) {
    let per_file = rows / FILES;
    for file in 0..FILES {
        let start = file * per_file;
        let sales: Vec<Sale> = (start..start + per_file)
            .map(|i| {
                let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
                Sale {
                    id: i as i64,
                    user_id: (h % 100_000) as i64,
                    category: format!("category_{:02}", (h % 60) * (h % 7) / 6),
                    price: (h % 20_000) as f64 / 100.0,
                    qty: 1 + (h % 5) as i32,
                    note: h.is_multiple_of(9).then(|| format!("note {}", h % 1000)),
                }
            })
            .collect();
        let part = dir.join(format!("input/{file}"));
        pipeline! { from_items::<Sale>(sales) }
            .write_parquet(part.to_str().unwrap())
            .unwrap();
    }
}

/// Every parquet file the generator wrote, in order.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = (0..FILES)
        .flat_map(|f| std::fs::read_dir(dir.join(format!("input/{f}"))).unwrap())
        .map(|entry| entry.unwrap().path())
        // Data files only: a write also leaves its `_SUCCESS` marker.
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    files.sort();
    files
}

/// The baselines' parallelism: files claimed by `threads` threads from an atomic counter,
/// each opened on its own; returns the sum of what `work` returns per file.
fn each_file(
    files: &[PathBuf],
    threads: usize,
    work: impl Fn(usize, &Path) -> usize + Sync,
) -> usize {
    let next = AtomicUsize::new(0);
    let total = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(index) else { return };
                    total.fetch_add(work(index, path), Ordering::Relaxed);
                }
            });
        }
    });
    total.into_inner()
}

/// Snappy pages, as aqueduct writes; and, as a careful engineer who knows this data would, no
/// dictionary for the columns of mostly distinct values (aqueduct decides that per column at
/// run time from each file's first rows).
fn writer(
    path: PathBuf,
    schema: arrow::datatypes::SchemaRef,
) -> parquet::arrow::ArrowWriter<std::fs::File> {
    let mut props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY);
    for column in ["id", "user_id", "price", "z"] {
        props = props.set_column_dictionary_enabled(column.into(), false);
    }
    let props = props.build();
    parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props))
        .unwrap()
}

fn projected(
    path: &Path,
    columns: &[&str],
) -> parquet::arrow::arrow_reader::ParquetRecordBatchReader {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
    builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .unwrap()
}

/// The two columns the filters read, as value slices.
fn price_and_qty(batch: &RecordBatch) -> (&[f64], &[i32]) {
    let price = batch
        .column_by_name("price")
        .unwrap()
        .as_primitive::<Float64Type>();
    let qty = batch
        .column_by_name("qty")
        .unwrap()
        .as_primitive::<Int32Type>();
    (price.values(), qty.values())
}

/// W1' by hand: only the needed columns decoded, one plain loop over value slices, `take` for
/// the pass-through columns.
fn hand_w1(dir: &Path, threads: usize) -> usize {
    each_file(&files(dir), threads, |_, path| {
        let mut kept_rows = 0;
        for batch in projected(path, &["id", "category", "price", "qty"]) {
            let batch = batch.unwrap();
            let (price, qty) = price_and_qty(&batch);
            let mut keep = Vec::new();
            let mut revenue = Vec::new();
            for i in 0..batch.num_rows() {
                if price[i] > 10.0 && qty[i] >= 2 {
                    keep.push(i as u32);
                    revenue.push(price[i] * qty[i] as f64);
                }
            }
            let keep = UInt32Array::from(keep);
            let id =
                arrow::compute::take(batch.column_by_name("id").unwrap(), &keep, None).unwrap();
            let category =
                arrow::compute::take(batch.column_by_name("category").unwrap(), &keep, None)
                    .unwrap();
            let revenue: ArrayRef = Arc::new(Float64Array::from(revenue));
            std::hint::black_box((id, category, revenue));
            kept_rows += keep.len();
        }
        kept_rows
    })
}

fn aqueduct_w1(dir: &Path) -> usize {
    let input = format!("{}/input/*/*.parquet", dir.display());
    let ds = pipeline! {
        read_parquet::<Sale>(input)
        |> filter(price > 10 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> select(id, category, revenue)
    };
    ds.count().unwrap()
}

/// W2 by hand: the new column by a unary kernel, one output file per input file.
fn hand_w2(dir: &Path, threads: usize) -> usize {
    let out = dir.join("hand_w2");
    std::fs::create_dir_all(&out).unwrap();
    each_file(&files(dir), threads, |index, path| {
        let mut rows = 0;
        let mut file = None;
        for batch in projected(path, &["id", "user_id", "category", "price", "qty"]) {
            let batch = batch.unwrap();
            let price = batch
                .column_by_name("price")
                .unwrap()
                .as_primitive::<Float64Type>();
            let z: Float64Array = price.unary(|p| (p - 100.0) / 50.0);
            let mut columns = batch.columns().to_vec();
            let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
            columns.push(Arc::new(z));
            fields.push(Arc::new(arrow::datatypes::Field::new(
                "z",
                arrow::datatypes::DataType::Float64,
                false,
            )));
            let out_batch =
                RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)
                    .unwrap();
            file.get_or_insert_with(|| {
                writer(
                    out.join(format!("part-{index:05}.parquet")),
                    out_batch.schema(),
                )
            })
            .write(&out_batch)
            .unwrap();
            rows += out_batch.num_rows();
        }
        if let Some(file) = file {
            file.close().unwrap();
        }
        rows
    })
}

fn aqueduct_w2(dir: &Path) -> usize {
    let input = format!("{}/input/*/*.parquet", dir.display());
    let output = format!("{}/aqueduct_w2", dir.display());
    let job = pipeline! {
        read_parquet::<Sale>(input)
        |> with_column(z = (price - 100.0) / 50.0)
        |> drop(note)
        |> write_parquet(output, mode = overwrite)
    };
    job.run().unwrap().rows
}

fn median_of(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..runs {
        let start = Instant::now();
        rows = f();
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], rows)
}

fn csv_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("csv"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    files.sort();
    files
}

/// W4 by hand: each CSV file parsed with the declared schema, the filter as one loop building
/// a mask, the kept rows written with the same writer settings.
fn hand_w4(dir: &Path, threads: usize) -> usize {
    let out = dir.join("hand_w4");
    std::fs::create_dir_all(&out).unwrap();
    let schema = Sale::schema();
    each_file(&csv_files(dir), threads, |index, path| {
        let reader = arrow_csv::ReaderBuilder::new(schema.clone())
            .with_header(true)
            .with_batch_size(8192)
            .build(std::fs::File::open(path).unwrap())
            .unwrap();
        let mut file = writer(out.join(format!("part-{index:05}.parquet")), schema.clone());
        let mut rows = 0;
        for batch in reader {
            let batch = batch.unwrap();
            let (price, qty) = price_and_qty(&batch);
            let mask: arrow::array::BooleanArray = (0..batch.num_rows())
                .map(|i| Some(price[i] > 10.0 && qty[i] >= 2))
                .collect();
            let kept = arrow::compute::filter_record_batch(&batch, &mask).unwrap();
            rows += kept.num_rows();
            file.write(&kept).unwrap();
        }
        file.close().unwrap();
        rows
    })
}

fn aqueduct_w4(dir: &Path) -> usize {
    let input = format!("{}/csv/*.csv", dir.display());
    let output = format!("{}/aqueduct_w4", dir.display());
    let job = pipeline! {
        read_csv::<Sale>(input)
        |> filter(price > 10 && qty >= 2)
        |> write_parquet(output, mode = overwrite)
    };
    job.run().unwrap().rows
}

/// Time both sides, check they agree, print a table row.
fn compare(
    name: &str,
    runs: usize,
    hand: impl FnMut() -> usize,
    ours: impl FnMut() -> usize,
    rows_in: usize,
) {
    let (hand, hand_rows) = median_of(runs, hand);
    let (ours, our_rows) = median_of(runs, ours);
    assert_eq!(
        hand_rows, our_rows,
        "{name}: both sides must produce the same rows"
    );
    println!(
        "| {name} ({our_rows} rows out) | {:.3} s | {:.3} s | {:.2} | {:.1} M rows/s |",
        hand.as_secs_f64(),
        ours.as_secs_f64(),
        ours.as_secs_f64() / hand.as_secs_f64(),
        rows_in as f64 / ours.as_secs_f64() / 1e6
    );
}

/// The process's peak resident memory, from `/proc/self/status`.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .map_or(4_000_000, |a| a.parse().expect("a row count"));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), rows);
    let input = format!("{}/input/*/*.parquet", dir.path().display());
    let csv = dir.path().join("csv");
    pipeline! { read_parquet::<Sale>(input) }
        .write_csv(csv.to_str().unwrap())
        .unwrap();
    let runs = 5;
    println!(
        "{rows} rows in {} parquet files and {} CSV files, {threads} threads, median of {runs}\n",
        files(dir.path()).len(),
        csv_files(dir.path()).len()
    );
    println!(
        "| workload | hand-written arrow-rs | aqueduct | aqueduct / hand | aqueduct throughput |"
    );
    println!("|---|---|---|---|---|");
    let path = dir.path();
    compare(
        "W1' parquet → filter → revenue → count",
        runs,
        || hand_w1(path, threads),
        || aqueduct_w1(path),
        rows,
    );
    compare(
        "W2 parquet → z-score, drop note → parquet",
        runs,
        || hand_w2(path, threads),
        || aqueduct_w2(path),
        rows,
    );
    compare(
        "W4 CSV → filter → parquet",
        runs,
        || hand_w4(path, threads),
        || aqueduct_w4(path),
        rows,
    );
    if let Some(rss) = peak_rss_mib() {
        println!("\npeak RSS of the whole benchmark process: {rss:.0} MiB");
    }
}
