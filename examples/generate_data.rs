//! Regenerates the sample data in `examples/data/` (deterministic: same bytes every run).
//! The repository ships its output; run this only to change it:
//! `cargo run --release --example generate_data`.

use aqueduct::chrono::{DateTime, Utc};
use aqueduct::prelude::*;

#[derive(Record, Debug, Clone)]
struct Sale {
    id: i64,
    user_id: i64,
    category: String,
    price: f64,
    qty: i32,
    ts: DateTime<Utc>,
    note: Option<String>,
}

const FILES: i64 = 4;
const ROWS_PER_FILE: i64 = 10_000;

/// A small linear congruential generator: reproducible without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 31) as f64
    }
}

fn sales(file: i64, rng: &mut Lcg) -> Vec<Sale> {
    let start = DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
    (0..ROWS_PER_FILE)
        .map(|i| {
            let id = file * ROWS_PER_FILE + i;
            // Skewed categories: low numbers are far more common.
            let category = (rng.unit() * rng.unit() * 60.0) as u32;
            Sale {
                id,
                user_id: (rng.next() % 5_000) as i64,
                category: format!("category_{category:02}"),
                price: (rng.unit() * 20_000.0).round() / 100.0,
                qty: 1 + (rng.next() % 5) as i32,
                ts: start + aqueduct::chrono::Duration::seconds(id * 37),
                note: rng
                    .next()
                    .is_multiple_of(7)
                    .then(|| format!("gift wrap #{}", rng.next() % 100)),
            }
        })
        .collect()
}

fn main() -> aqueduct::Result<()> {
    let mut rng = Lcg(42);
    for file in 0..FILES {
        let rows = sales(file, &mut rng);
        let dataset = pipeline! { from_items::<Sale>(rows) };
        let directory = format!("examples/data/sales/{file}");
        let written = dataset.write_parquet(&directory)?;
        let from = format!("{directory}/part-00000-00000.parquet");
        let to = format!("examples/data/sales/part-{file}.parquet");
        std::fs::rename(&from, &to).map_err(|e| aqueduct::Error::Write {
            url: to.clone(),
            reason: e.into(),
        })?;
        std::fs::remove_dir_all(&directory).map_err(|e| aqueduct::Error::Write {
            url: directory.clone(),
            reason: e.into(),
        })?;
        println!("wrote {to} ({} rows)", written.rows);
    }
    let first = sales(0, &mut Lcg(7));
    let csv = pipeline! { from_items::<Sale>(first) |> limit(2_000) |> drop(ts) };
    let written = csv
        .with_write_mode(WriteMode::Overwrite)
        .write_csv("examples/data/sales_csv")?;
    println!("wrote {:?} ({} rows)", written.files, written.rows);
    Ok(())
}
