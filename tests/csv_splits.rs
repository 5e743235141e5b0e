//! Large CSV files are read in byte ranges, and a quoted field may hold newlines, commas and
//! quotes: however a file is cut, every record is read exactly once, as a whole read gives it,
//! and an error names the file's line.

use aqueduct::ExecOptions;
use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Note {
    id: i64,
    text: String,
    score: f64,
}

fn notes(n: i64) -> Vec<Note> {
    (0..n)
        .map(|i| Note {
            id: i,
            text: match i % 5 {
                0 => format!("line one\nline two of {i}"),
                1 => format!("\"quoted\", with a comma {i}"),
                2 => "\n\n\n".to_owned(),
                3 => format!("plain {i}"),
                _ => format!("a \"\"doubled\"\" quote\r\nand a CRLF {i}"),
            },
            score: i as f64 / 4.0,
        })
        .collect()
}

fn cut(ds: Dataset<Note>, split_bytes: usize) -> Dataset<Note> {
    ds.with_options(ExecOptions {
        split_bytes,
        preserve_order: true,
        ..ExecOptions::from_environment()
    })
}

#[test]
fn quoted_newlines_survive_every_cut() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("notes");
    pipeline! { from_items::<Note>(notes(3_000)) }
        .write_csv(&out)
        .unwrap();
    let size = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum::<u64>();
    assert!(size > 100_000);
    let whole = pipeline! { read_csv::<Note>(out.clone()) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    assert_eq!(whole, notes(3_000));
    // Cuts of many sizes, landing inside quoted fields, on quotes, on CRLFs.
    for split_bytes in [37, 64, 101, 997, 4_096, 33_333] {
        let ds = cut(pipeline! { read_csv::<Note>(out.clone()) }, split_bytes);
        let rows = ds
            .take_all()
            .unwrap_or_else(|e| panic!("{split_bytes}: {e}"));
        assert_eq!(rows.len(), whole.len(), "{split_bytes}");
        assert!(rows == whole, "split_bytes = {split_bytes}");
    }
}

#[test]
fn a_quote_outside_a_quoted_field_reads_the_file_whole() {
    // `5" disc` is taken literally by the parser; it must not confuse the cutting either.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stray.csv");
    let mut text = String::from("id,text,score\n");
    for i in 0..2_000 {
        if i % 100 == 7 {
            text.push_str(&format!("{i},a 5\" disc,{i}\n"));
        } else {
            text.push_str(&format!("{i},\"two\nlines {i}\",{i}\n"));
        }
    }
    std::fs::write(&file, text).unwrap();
    let rows = cut(pipeline! { read_csv::<Note>(file.clone()) }, 500)
        .take_all()
        .unwrap();
    assert_eq!(rows.len(), 2_000);
    assert!(rows.iter().enumerate().all(|(i, r)| r.id == i as i64));
    assert_eq!(rows[7].text, "a 5\" disc");
    assert_eq!(rows[8].text, "two\nlines 8");
}

#[test]
fn errors_name_the_files_line_in_every_split() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    let mut text = String::from("id,text,score\n");
    // Every record takes two lines; record 1500 (0-based) has a bad score.
    for i in 0..2_000 {
        let score = if i == 1_500 {
            "high".to_owned()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{i},\"first\nsecond\",{score}\n"));
    }
    std::fs::write(&file, text).unwrap();
    // Its line: the header, then two lines per record before it.
    let line = 1 + 2 * 1_500 + 1;
    for split_bytes in [1 << 30, 1_000] {
        let error = cut(pipeline! { read_csv::<Note>(file.clone()) }, split_bytes)
            .count()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!("line {line},")) && error.contains("`score`"),
            "{split_bytes}: {error}"
        );
    }
    // JSON lines and text too.
    let json = dir.path().join("bad.json");
    let mut text = String::new();
    for i in 0..2_000 {
        if i == 1_234 {
            text.push_str("{\"id\": 1234, \"text\": \"x\", \"score\": oops}\n");
        } else {
            text.push_str(&format!(
                "{{\"id\": {i}, \"text\": \"x\", \"score\": 1.0}}\n"
            ));
        }
    }
    std::fs::write(&json, text).unwrap();
    let error = cut(pipeline! { read_json::<Note>(json.clone()) }, 1_000)
        .count()
        .unwrap_err()
        .to_string();
    assert!(error.contains("line 1235:"), "{error}");
}
