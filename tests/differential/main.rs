//! Differential tests: a library of pipelines (`cases.rs`) runs over random tables (`table.rs`)
//! read from parquet and from CSV, and DuckDB runs the same question in SQL over the same
//! files; the results must agree (`compare.rs` says how floats, NaN and zeros are held equal).
//! Each seed also draws how the run is cut and scheduled (threads, block size, memory budget
//! small enough to spill, CSV byte ranges, order preservation), none of which may change a result.
//!
//! `cargo test --test differential` runs 5 seeds; the long mode is
//! `AQUEDUCT_DIFF_SEEDS=200 cargo test --release --test differential`, and
//! `AQUEDUCT_DIFF_FIRST_SEED=17 AQUEDUCT_DIFF_SEEDS=1 cargo test --test differential -- NAME`
//! repeats one seed of one case. Without DuckDB every case reports itself skipped, by name
//! (never passed); `AQUEDUCT_REQUIRE_DUCKDB=1` (set by CI) makes that a failure.

mod cases;
mod compare;
mod duckdb;
mod table;

use std::path::Path;
use std::time::Instant;

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use cases::{Case, Format, Input};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How one seed's runs are cut and scheduled.
fn options(seed: u64) -> aqueduct::ExecOptions {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed ^ 0x0b7);
    let defaults = aqueduct::ExecOptions::default();
    aqueduct::ExecOptions {
        threads: *[1, 2, 4].choose(&mut rng).unwrap(),
        target_block_bytes: *[defaults.target_block_bytes, 4 << 10, 64 << 10]
            .choose(&mut rng)
            .unwrap(),
        memory_budget: *[defaults.memory_budget, 256 << 10]
            .choose(&mut rng)
            .unwrap(),
        split_bytes: *[defaults.split_bytes, 1 << 10, 16 << 10]
            .choose(&mut rng)
            .unwrap(),
        preserve_order: rng.random_bool(0.5),
        progress: false,
        ..defaults
    }
}

/// One failure, with what it takes to repeat it.
struct Failure {
    case: &'static str,
    seed: u64,
    format: Format,
    why: String,
}

fn run_seed(seed: u64, cases: &[&Case], oracle: &duckdb::Duckdb, failures: &mut Vec<Failure>) {
    let dir = tempfile::tempdir().unwrap();
    let rows = table::rows(seed);
    let files = table::write(seed, &rows, dir.path());
    let formats = [
        (Format::Parquet, "parquet", &files.parquet),
        (Format::Csv, "csv", &files.csv),
    ];
    let runs: Vec<_> = formats
        .iter()
        .map(|(_, name, location)| {
            let out = dir.path().join(format!("duckdb-{name}"));
            std::fs::create_dir_all(&out).unwrap();
            let queries: Vec<_> = cases
                .iter()
                .map(|case| json!({"sql": case.sql, "out": out.join(format!("{}.parquet", case.name))}))
                .collect();
            json!({"format": name, "location": location, "queries": queries})
        })
        .collect();
    let job = json!({"columns": *table::sql_columns(), "runs": runs});
    if let Err(why) = oracle.run(&job, dir.path()) {
        for case in cases {
            failures.push(Failure {
                case: case.name,
                seed,
                format: Format::Parquet,
                why: why.clone(),
            });
        }
        return;
    }
    let options = options(seed);
    for (format, name, location) in formats {
        let out = dir.path().join(format!("duckdb-{name}"));
        for case in cases {
            let input = Input {
                format,
                location: location.display().to_string(),
                options: options.clone(),
            };
            if let Err(why) = check(case, &input, &out) {
                failures.push(Failure {
                    case: case.name,
                    seed,
                    format,
                    why: format!("{why}\n    options: threads {}, block bytes {}, budget {}, split bytes {}, preserve order {}; {} rows",
                        options.threads, options.target_block_bytes, options.memory_budget,
                        options.split_bytes, options.preserve_order, rows.len()),
                });
            }
        }
    }
}

fn check(case: &Case, input: &Input, out: &Path) -> Result<(), String> {
    let ours = std::panic::catch_unwind(|| (case.run)(input)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("aqueduct panicked: {message}")
    })?;
    let result = out.join(format!("{}.parquet", case.name));
    let error = std::fs::read_to_string(result.with_extension("parquet.error")).ok();
    match (ours, error) {
        (Err(_), Some(_)) => Ok(()),
        (Err(ours), None) => Err(format!("aqueduct failed, DuckDB did not: {ours}")),
        (Ok(_), Some(theirs)) => Err(format!("DuckDB failed, aqueduct did not: {theirs}")),
        (Ok(batches), None) => {
            let got = compare::table(&batches)?;
            let want = compare::table(&read_parquet(&result)?)?;
            compare::agree(&got, &want, case.order, input.options.preserve_order)
        }
    }
}

fn read_parquet(path: &Path) -> Result<Vec<arrow::record_batch::RecordBatch>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

fn main() -> std::process::ExitCode {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = cases::all();
    let chosen: Vec<&Case> = all
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.name.contains(f.as_str())))
        .collect();
    let seeds = env_number("AQUEDUCT_DIFF_SEEDS", 5);
    let first = env_number("AQUEDUCT_DIFF_FIRST_SEED", 0);
    println!(
        "\nrunning {} differential cases against DuckDB, seeds {first}..{}",
        chosen.len(),
        first + seeds
    );
    let oracle = match duckdb::Duckdb::find() {
        Ok(oracle) => oracle,
        Err(why) => {
            for case in &chosen {
                println!("test {} ... skipped ({why})", case.name);
            }
            println!(
                "\ndifferential: 0 passed; 0 failed; {} skipped\n",
                chosen.len()
            );
            return if std::env::var("AQUEDUCT_REQUIRE_DUCKDB").is_ok_and(|v| v == "1") {
                println!("AQUEDUCT_REQUIRE_DUCKDB=1: DuckDB is required");
                std::process::ExitCode::FAILURE
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    // Panics that aqueduct catches and reports as errors (an integer sum that overflows) would
    // print here; one that escapes is reported with its message by `check`.
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let mut failures = Vec::new();
    for seed in first..first + seeds {
        run_seed(seed, &chosen, &oracle, &mut failures);
    }
    for case in &chosen {
        let mine: Vec<&Failure> = failures.iter().filter(|f| f.case == case.name).collect();
        if mine.is_empty() {
            println!("test {} ... ok", case.name);
            continue;
        }
        println!(
            "test {} ... FAILED ({} of {} runs)",
            case.name,
            mine.len(),
            seeds * 2
        );
        for f in mine.iter().take(3) {
            println!(
                "  seed {} {:?}: {}\n    again: AQUEDUCT_DIFF_FIRST_SEED={} AQUEDUCT_DIFF_SEEDS=1 cargo test --test differential -- {}",
                f.seed, f.format, f.why, f.seed, case.name
            );
        }
    }
    let failed = chosen
        .iter()
        .filter(|c| failures.iter().any(|f| f.case == c.name))
        .count();
    println!(
        "\ndifferential (DuckDB {}): {} passed; {failed} failed; 0 skipped; {seeds} seeds × 2 formats in {:.1?}\n",
        oracle.version,
        chosen.len() - failed,
        started.elapsed()
    );
    if failed > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
