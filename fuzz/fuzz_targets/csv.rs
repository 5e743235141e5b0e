//! CSV: any bytes, read whole and cut in byte ranges (quote-aware cutting, `csv_ranges.rs`):
//! the same rows or an error both ways, never a panic.
#![no_main]

use aqueduct::prelude::*;
use aqueduct_fuzz::{put, read, same_whole_and_cut};
use aqueduct_runtime::source::{CsvOptions, FileFormat, FileSource};
use libfuzzer_sys::fuzz_target;

#[derive(Record, Debug, Clone)]
struct Row {
    a: Option<i64>,
    b: Option<String>,
    c: Option<f64>,
    d: Option<bool>,
    e: String,
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    // Most inputs get a header, so that the fuzzer's bytes reach the records.
    let mut file = Vec::new();
    if control & 1 == 0 {
        file.extend_from_slice(b"a,b,c,d,e\n");
    }
    file.extend_from_slice(body);
    let options = CsvOptions {
        delimiter: if control & 2 == 0 { b',' } else { b';' },
        ..CsvOptions::default()
    };
    let source = FileSource::new(
        put("f.csv", &file),
        FileFormat::Csv(options),
        "Row",
        Row::schema(),
        false,
    );
    let whole = read::<Row>(&source, usize::MAX);
    let cut = read::<Row>(&source, 1 + (control >> 2) as usize % 48);
    same_whole_and_cut(whole, cut);
});
