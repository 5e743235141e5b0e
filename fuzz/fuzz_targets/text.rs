//! Text: any bytes, read whole and cut in byte ranges, give every line exactly once (a line
//! ends at `\n`, without it and a `\r` before it), or a UTF-8 error both ways.
#![no_main]

use aqueduct::prelude::*;
use aqueduct_fuzz::{put, read, same_whole_and_cut};
use aqueduct_runtime::source::{FileFormat, FileSource};
use libfuzzer_sys::fuzz_target;

/// What `read_text` gives: one row per line.
#[derive(Record, Debug, Clone)]
struct Line {
    text: String,
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let source = FileSource::new(
        put("f.txt", body),
        FileFormat::Text,
        "text",
        Line::schema(),
        false,
    );
    let whole = read::<Line>(&source, usize::MAX);
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    if body.is_empty() || body.ends_with(b"\n") {
        lines.pop();
    }
    let expected: Result<Vec<String>, ()> = lines
        .into_iter()
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            String::from_utf8(l.to_vec())
                .map(|text| format!("{:?}", Line { text }))
                .map_err(|_| ())
        })
        .collect();
    match (&whole, &expected) {
        (Ok(got), Ok(want)) => assert_eq!(got, want),
        (Err(_), Err(())) => {}
        _ => panic!("read {whole:?}, expected {expected:?}"),
    }
    let cut = read::<Line>(&source, 1 + control as usize % 64);
    same_whole_and_cut(whole, cut);
});
