//! Parquet: any bytes as a file (footer, metadata, pages, every codec), read as a record of
//! plain and nullable columns, projected to one column with row-group skipping, and narrowed
//! to `i32` (checked value by value): rows or an error, never a panic. The corpus starts from
//! valid files in several codecs and encodings.
#![no_main]

use aqueduct::prelude::*;
use aqueduct_fuzz::{put, read};
use aqueduct_runtime::source::{CmpOp, FileFormat, FileSource, Predicate, Scalar};
use libfuzzer_sys::fuzz_target;

#[derive(Record, Debug, Clone)]
struct Row {
    id: i64,
    name: Option<String>,
    price: Option<f64>,
}

#[derive(Record, Debug, Clone)]
struct Name {
    name: Option<String>,
}

#[derive(Record, Debug, Clone)]
struct Narrow {
    id: i32,
}

fuzz_target!(|data: &[u8]| {
    let url = put("f.parquet", data);
    let _ = read::<Row>(
        &FileSource::new(
            url.clone(),
            FileFormat::Parquet,
            "Row",
            Row::schema(),
            false,
        ),
        usize::MAX,
    );
    let projected = FileSource::new(
        url.clone(),
        FileFormat::Parquet,
        "Name",
        Name::schema(),
        false,
    )
    .with_predicates(vec![Predicate::new("id", CmpOp::Gt, Scalar::Int(3))])
    .with_dictionary(&["name"]);
    let _ = read::<Name>(&projected, usize::MAX);
    let _ = read::<Narrow>(
        &FileSource::new(url, FileFormat::Parquet, "Narrow", Narrow::schema(), false),
        usize::MAX,
    );
});
