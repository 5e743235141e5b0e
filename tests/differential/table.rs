//! The random tables: one seed gives one table, cut into files (empty ones, one-row ones,
//! files of many row groups) and written as parquet and as CSV.

use std::path::Path;
use std::sync::Arc;

use aqueduct::prelude::*;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

/// Every column a pipeline of the library reads: `id` numbers the rows in file order (so that
/// `first`/`last` have an oracle); the others are keys of every kind and values with every
/// awkward case.
#[derive(Record, Debug, Clone)]
pub struct T {
    pub id: i64,
    /// A key: skewed, all distinct or two values, by seed; nulls; i64 extremes.
    pub k: Option<i64>,
    /// A small key, -3..=3.
    pub g: i32,
    /// A string key with nulls: empty, unicode, quotes, commas, newlines, long.
    pub s: Option<String>,
    /// A string that is never null (an empty CSV field is "" here).
    pub t: String,
    /// Floats: NaN, ±inf, ±0.0, subnormals, ordinary values.
    pub x: f64,
    /// Floats with nulls.
    pub z: Option<f64>,
    /// Integers with i64::MIN and i64::MAX.
    pub y: i64,
    /// Small integers, i32 extremes now and then.
    pub q: i32,
    pub b: bool,
    pub d: NaiveDate,
}

#[derive(Clone, Copy, Debug)]
enum Keys {
    Skewed,
    Distinct,
    Two,
}

const WORDS: &[&str] = &[
    "",
    "a",
    "A",
    "b",
    "ab",
    "é",
    "日本",
    "🦀",
    "a,b",
    "\"q\"",
    "line\nbreak",
    "cr\r\nlf",
    "tab\t",
    " lead",
    "trail ",
    "\\",
    "NULL",
    "null",
    "NaN",
    "-0",
    "zz",
    "ünï cödé",
];

fn word(rng: &mut Pcg64) -> String {
    match rng.random_range(0..20) {
        0 => "long ".repeat(rng.random_range(50..400)),
        1 => (0..rng.random_range(1..12))
            .map(|_| char::from_u32(rng.random_range(0x20..0x3000)).unwrap_or('?'))
            .collect(),
        _ => WORDS.choose(rng).unwrap().to_string(),
    }
}

fn float(rng: &mut Pcg64) -> f64 {
    match rng.random_range(0..24) {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => -0.0,
        4 => 0.0,
        5 => 5e-324,
        6 => -1e-300,
        7 => rng.random_range(-100..100) as f64,
        _ => rng.random_range(-1e6..1e6),
    }
}

fn int(rng: &mut Pcg64) -> i64 {
    match rng.random_range(0..12) {
        0 => i64::MIN,
        1 => i64::MAX,
        2 => rng.random(),
        3 => 0,
        _ => rng.random_range(-1000..1000),
    }
}

/// The rows of one seed.
pub fn rows(seed: u64) -> Vec<T> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let keys = *[Keys::Skewed, Keys::Distinct, Keys::Two]
        .choose(&mut rng)
        .unwrap();
    let n = match rng.random_range(0..10) {
        0 => 0,
        1 => 1,
        2..=5 => rng.random_range(2..300),
        _ => rng.random_range(300..4000),
    };
    (0..n)
        .map(|i| {
            let k = match keys {
                Keys::Skewed => match rng.random_range(0..10) {
                    0 => None,
                    1 => Some(int(&mut rng)),
                    2..=4 => Some(rng.random_range(1..20)),
                    _ => Some(0),
                },
                Keys::Distinct => Some(i as i64 * 7919 - 4000),
                Keys::Two => rng.random_bool(0.5).then_some(1),
            };
            let s = match keys {
                Keys::Distinct => Some(format!("{i}{}", word(&mut rng))),
                _ => rng.random_bool(0.85).then(|| word(&mut rng)),
            };
            T {
                id: i as i64,
                k,
                g: rng.random_range(-3..=3),
                s,
                t: word(&mut rng),
                x: float(&mut rng),
                z: rng.random_bool(0.8).then(|| float(&mut rng)),
                y: int(&mut rng),
                q: match rng.random_range(0..40) {
                    0 => i32::MIN,
                    1 => i32::MAX,
                    _ => rng.random_range(-100..100),
                },
                b: rng.random_bool(0.3),
                d: NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                    + chrono::Days::new(rng.random_range(
                        0..if matches!(keys, Keys::Distinct) {
                            40_000
                        } else {
                            5
                        },
                    )),
            }
        })
        .collect()
}

/// Where the files of one seed went.
pub struct Files {
    pub parquet: std::path::PathBuf,
    pub csv: std::path::PathBuf,
}

/// Cut `rows` into files (in `id` order across files, which are named in order) and write each
/// as parquet and CSV under `dir`.
pub fn write(seed: u64, rows: &[T], dir: &Path) -> Files {
    let mut rng = Pcg64::seed_from_u64(seed ^ 0x5eed);
    let files = Files {
        parquet: dir.join("parquet"),
        csv: dir.join("csv"),
    };
    std::fs::create_dir_all(&files.parquet).unwrap();
    std::fs::create_dir_all(&files.csv).unwrap();
    let mut cuts = vec![0, rows.len()];
    for _ in 0..rng.random_range(0..4) {
        cuts.push(rng.random_range(0..=rows.len()));
    }
    // Now and then an empty file or a file of one row.
    if rng.random_bool(0.3) {
        cuts.push(*cuts.choose(&mut rng).unwrap());
    }
    if rng.random_bool(0.3) && !rows.is_empty() {
        let at = rng.random_range(0..rows.len());
        cuts.extend([at, at + 1]);
    }
    cuts.sort();
    for (i, pair) in cuts.windows(2).enumerate() {
        let batch = T::to_batch(&rows[pair[0]..pair[1]]);
        let row_group = *[3, 64, 500, 1 << 20].choose(&mut rng).unwrap();
        write_parquet(
            &files.parquet.join(format!("part-{i:03}.parquet")),
            &batch,
            row_group,
        );
        write_csv(&files.csv.join(format!("part-{i:03}.csv")), &batch);
    }
    files
}

fn write_parquet(path: &Path, batch: &RecordBatch, row_group: usize) {
    let file = std::fs::File::create(path).unwrap();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

fn write_csv(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    writer.write(batch).unwrap();
}

/// The schema a DuckDB view declares for the CSV files (column names and SQL types).
pub fn sql_columns() -> Arc<Vec<(String, &'static str)>> {
    let schema = T::schema();
    Arc::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                let sql = match f.data_type() {
                    arrow::datatypes::DataType::Int64 => "BIGINT",
                    arrow::datatypes::DataType::Int32 => "INTEGER",
                    arrow::datatypes::DataType::Utf8 => "VARCHAR",
                    arrow::datatypes::DataType::Float64 => "DOUBLE",
                    arrow::datatypes::DataType::Boolean => "BOOLEAN",
                    arrow::datatypes::DataType::Date32 => "DATE",
                    other => panic!("no SQL type for {other}"),
                };
                (f.name().clone(), sql)
            })
            .collect(),
    )
}
