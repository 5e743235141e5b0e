//! JSON lines: any bytes, read whole and cut in byte ranges: the same rows or an error both
//! ways, never a panic.
#![no_main]

use aqueduct::prelude::*;
use aqueduct_fuzz::{put, read, same_whole_and_cut};
use aqueduct_runtime::source::{FileFormat, FileSource};
use libfuzzer_sys::fuzz_target;

#[derive(Record, Debug, Clone)]
struct Row {
    a: Option<i64>,
    b: Option<String>,
    c: Option<Vec<i64>>,
    d: Option<f64>,
    e: Option<bool>,
    f: Option<aqueduct::chrono::DateTime<aqueduct::chrono::Utc>>,
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let source = FileSource::new(
        put("f.jsonl", body),
        FileFormat::Json,
        "Row",
        Row::schema(),
        false,
    );
    let whole = read::<Row>(&source, usize::MAX);
    let cut = read::<Row>(&source, 1 + control as usize % 64);
    same_whole_and_cut(whole, cut);
});
