//! Many small files: time to list them and to get the first block out, and the whole run.
//! `cargo run --release --example bench_many_files [files]` (default 100,000 files of 10 rows).

use std::time::Instant;

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone)]
struct Reading {
    id: i64,
    value: f64,
}

fn main() {
    let files: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().expect("a file count"));
    let dir = tempfile::tempdir().unwrap();
    let generating = Instant::now();
    // One file per split: 10 rows each, written through aqueduct itself.
    let batches: Vec<RecordBatch> = (0..files as i64)
        .map(|f| {
            Reading::to_batch(
                &(0..10)
                    .map(|i| Reading {
                        id: f * 10 + i,
                        value: i as f64,
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let out = dir.path().join("many");
    let written = pipeline! { from_arrow::<Reading>(batches) }
        .write_parquet(out.to_str().unwrap())
        .unwrap();
    assert_eq!(written.files.len(), files);
    println!(
        "generated {files} files in {:.1} s\n",
        generating.elapsed().as_secs_f64()
    );

    let location = out.to_str().unwrap().to_owned();
    let start = Instant::now();
    let listed = aqueduct::storage::list_files(&location).unwrap().len();
    let listing = start.elapsed();

    let ds = pipeline! { read_parquet::<Reading>(location) |> filter(value > 4.0) };
    let start = Instant::now();
    let mut blocks = ds.iter_blocks().unwrap();
    let first = blocks.next().unwrap().unwrap();
    let first_block = start.elapsed();
    let rows = first.num_rows() + blocks.map(|b| b.unwrap().num_rows()).sum::<usize>();
    let total = start.elapsed();
    assert_eq!(rows, files * 5);
    println!("| files | listing | first block out | whole run | rows out |");
    println!("|---|---|---|---|---|");
    println!(
        "| {listed} | {:.2} s | {:.2} s | {:.1} s ({:.0} files/s) | {rows} |",
        listing.as_secs_f64(),
        first_block.as_secs_f64(),
        total.as_secs_f64(),
        files as f64 / total.as_secs_f64()
    );
}
