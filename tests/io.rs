//! Sources and sinks through object_store: local paths, directories, globs, an in-memory
//! store; and every kind of bad input, each a clear error naming the file and what is wrong.

use std::path::Path;
use std::sync::Arc;

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
    note: Option<String>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Priced {
    id: i64,
    price: f64,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct WrongType {
    id: i64,
    price: String,
}

fn sales(n: i64) -> Vec<Sale> {
    (0..n)
        .map(|i| Sale {
            id: i,
            category: format!("c{}", i % 7),
            price: i as f64 / 4.0,
            note: (i % 3 == 0).then(|| format!("n{i}")),
        })
        .collect()
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A file named `name` in `dir` holding `contents`; its path.
fn file_with(dir: &tempfile::TempDir, name: &str, contents: impl AsRef<[u8]>) -> String {
    let file = path(dir.path(), name);
    std::fs::write(&file, contents).unwrap();
    file
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

/// One parquet file of `rows` sales in row groups of `group_rows`.
fn write_row_groups(file: &str, rows: i64, group_rows: usize) {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let target = std::fs::File::create(file).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(target, Sale::schema(), Some(props)).unwrap();
    for chunk in sales(rows).chunks(group_rows) {
        writer.write(&Sale::to_batch(chunk)).unwrap();
    }
    writer.close().unwrap();
}

fn write_sales(dir: &Path, name: &str, rows: Vec<Sale>) -> String {
    let location = path(dir, name);
    pipeline! { from_items::<Sale>(rows) }
        .write_parquet(&location)
        .unwrap();
    location
}

#[test]
fn parquet_round_trip_through_directory_glob_and_file() {
    let tmp = dir();
    let location = write_sales(tmp.path(), "sales", sales(5000));
    let written: Vec<String> = std::fs::read_dir(&location)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written.contains(&"_SUCCESS".to_owned()), "{written:?}");

    let from_dir = pipeline! { read_parquet::<Sale>(location.clone()) };
    assert_eq!(from_dir.take_all().unwrap(), sales(5000));
    let from_glob =
        pipeline! { read_parquet::<Sale>(format!("{location}/*.parquet")) |> filter(id < 10) };
    assert_eq!(from_glob.count().unwrap(), 10);
    let from_file =
        pipeline! { read_parquet::<Sale>(format!("{location}/part-00000-00000.parquet")) };
    assert_eq!(from_file.count().unwrap(), 5000);
    let file_url =
        pipeline! { read_parquet::<Sale>(format!("file://{location}/part-00000-00000.parquet")) };
    assert_eq!(file_url.count().unwrap(), 5000);
}

#[test]
fn many_files_keep_their_order_and_paths() {
    let tmp = dir();
    for part in 0..6 {
        let rows: Vec<Sale> = sales(600).into_iter().skip(part * 100).take(100).collect();
        write_sales(tmp.path(), &format!("parts/{part}"), rows);
    }
    let ds = pipeline! {
        read_parquet::<Sale>(path(tmp.path(), "parts/*/*.parquet"), include_paths = true)
        |> select(id, path)
    }
    .with_preserve_order(true);
    let rows = ds.take_all().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        (0..600).collect::<Vec<_>>()
    );
    assert!(
        rows[0].path.ends_with("parts/0/part-00000-00000.parquet"),
        "{}",
        rows[0].path
    );
    assert!(rows[599].path.ends_with("parts/5/part-00000-00000.parquet"));
}

#[test]
fn projection_reads_only_the_columns_used() {
    let tmp = dir();
    let location = write_sales(tmp.path(), "sales", sales(100));
    let ds = pipeline! {
        read_parquet::<Sale>(location)
        |> filter(price > 10.0)
        |> select(id)
    };
    assert!(
        ds.explain().contains("columns=[id, price]"),
        "{}",
        ds.explain()
    );
    assert_eq!(
        ds.count().unwrap(),
        sales(100).iter().filter(|s| s.price > 10.0).count()
    );
}

#[test]
fn csv_json_and_text_sources_and_sinks() {
    let tmp = dir();
    let csv_dir = path(tmp.path(), "csv");
    let written = pipeline! { from_items::<Sale>(sales(300)) }
        .write_csv(&csv_dir)
        .unwrap();
    assert_eq!(written.rows, 300);
    assert!(written.files[0].ends_with("csv/part-00000-00000.csv"));
    let from_csv = pipeline! { read_csv::<Sale>(csv_dir) };
    assert_eq!(from_csv.take_all().unwrap(), sales(300));

    let semicolons = file_with(&tmp, "semi.csv", "price;extra;id\n1.5;x;7\n2.5;y;8\n");
    let ds = pipeline! { read_csv::<Priced>(semicolons, delimiter = b';') };
    assert_eq!(
        ds.take_all().unwrap(),
        [Priced { id: 7, price: 1.5 }, Priced { id: 8, price: 2.5 }]
    );

    let json_dir = path(tmp.path(), "json");
    pipeline! { from_items::<Sale>(sales(200)) }
        .write_json(&json_dir)
        .unwrap();
    let from_json = pipeline! { read_json::<Sale>(json_dir) };
    assert_eq!(from_json.take_all().unwrap(), sales(200));

    let text = file_with(&tmp, "lines.txt", "alpha\nbeta\r\n\ngamma\n");
    let lines =
        pipeline! { read_text(text) |> filter(text.len() > 0) |> with_column(size = text.len()) };
    let got: Vec<(String, u64)> = lines
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| (r.text, r.size))
        .collect();
    assert_eq!(
        got,
        [("alpha".into(), 5), ("beta".into(), 4), ("gamma".into(), 5)]
    );
}

#[test]
fn sinks_in_the_pipeline_and_deterministic_names() {
    let tmp = dir();
    let out = path(tmp.path(), "out");
    let job = pipeline! {
        from_items::<Sale>(sales(1000))
        |> filter(note.is_null())
        |> select(id, price)
        |> write_parquet::<Priced>(out.clone(), mode = overwrite)
    };
    assert!(job.explain().contains("write_parquet"));
    let first = job.run().unwrap();
    let second = job.run().unwrap();
    assert_eq!(first, second);
    let back = pipeline! { read_parquet::<Priced>(out) };
    let expected: Vec<Priced> = sales(1000)
        .into_iter()
        .filter(|s| s.note.is_none())
        .map(|s| Priced {
            id: s.id,
            price: s.price,
        })
        .collect();
    assert_eq!(back.take_all().unwrap(), expected);
}

#[test]
fn in_memory_object_store() {
    let store = Arc::new(object_store::memory::InMemory::new());
    aqueduct::storage::register_store("memory://tests", store);
    pipeline! { from_items::<Sale>(sales(50)) }
        .write_parquet("memory://tests/sales")
        .unwrap();
    let ds = pipeline! { read_parquet::<Sale>("memory://tests/sales/") |> filter(id >= 40) };
    assert_eq!(ds.count().unwrap(), 10);
    pipeline! { from_items::<Sale>(sales(5000)) }
        .write_csv("memory://tests/csv")
        .unwrap();
    let csv = pipeline! { read_csv::<Sale>("memory://tests/csv") |> filter(id % 1000 == 0) };
    assert_eq!(csv.count().unwrap(), 5);
    pipeline! { from_items::<Sale>(sales(30)) }
        .write_json("memory://tests/json")
        .unwrap();
    assert_eq!(
        pipeline! { read_json::<Sale>("memory://tests/json") }
            .take_all()
            .unwrap(),
        sales(30)
    );
    let lines = pipeline! { read_text("memory://tests/json/part-00000-00000.json") };
    assert_eq!(lines.count().unwrap(), 30);
    let missing = pipeline! { read_parquet::<Sale>("memory://tests/nothing") };
    let error = missing.count().unwrap_err().to_string();
    assert!(error.contains("memory://tests/nothing"), "{error}");
}

fn error_of<R: aqueduct::Record>(ds: Dataset<R>) -> String {
    ds.count().expect_err("bad input must fail").to_string()
}

#[test]
fn missing_files_and_empty_directories() {
    let tmp = dir();
    let missing = path(tmp.path(), "nope.parquet");
    let error = error_of(pipeline! { read_parquet::<Sale>(missing.clone()) });
    assert!(
        error.contains(&missing) && error.contains("no such file"),
        "{error}"
    );

    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let error = error_of(pipeline! { read_csv::<Sale>(path(tmp.path(), "empty")) });
    assert!(error.contains("empty"), "{error}");

    let error = error_of(pipeline! { read_json::<Sale>(path(tmp.path(), "*.json")) });
    assert!(error.contains("no file matched"), "{error}");
}

#[test]
fn files_that_are_not_parquet_or_are_truncated() {
    let tmp = dir();
    let fake = file_with(&tmp, "fake.parquet", "id,price\n1,2\n");
    let error = error_of(pipeline! { read_parquet::<Sale>(fake.clone()) });
    assert!(
        error.contains(&fake) && error.contains("parquet"),
        "{error}"
    );

    let location = write_sales(tmp.path(), "good", sales(2000));
    let file = format!("{location}/part-00000-00000.parquet");
    let bytes = std::fs::read(&file).unwrap();
    let truncated = file_with(&tmp, "truncated.parquet", &bytes[..bytes.len() / 2]);
    let error = error_of(pipeline! { read_parquet::<Sale>(truncated.clone()) });
    assert!(error.contains(&truncated), "{error}");
    let cut_footer = file_with(&tmp, "cut_footer.parquet", &bytes[..bytes.len() - 3]);
    let error = error_of(pipeline! { read_parquet::<Sale>(cut_footer.clone()) });
    assert!(error.contains(&cut_footer), "{error}");
}

#[test]
fn files_whose_schema_does_not_match_the_record() {
    let tmp = dir();
    let location = write_sales(tmp.path(), "sales", sales(10));
    let file = format!("{location}/part-00000-00000.parquet");

    #[derive(Record, Debug)]
    struct Extra {
        id: i64,
        discount: f64,
    }
    let error = error_of(pipeline! { read_parquet::<Extra>(file.clone()) });
    assert!(
        error.contains(&file) && error.contains("`discount`") && error.contains("Extra"),
        "{error}"
    );

    let error = error_of(pipeline! { read_parquet::<WrongType>(file.clone()) });
    assert!(
        error.contains(&file)
            && error
                .contains("column `price` holds f64 values, which the declared String cannot hold"),
        "{error}"
    );

    #[derive(Record, Debug)]
    struct NotNullNote {
        note: String,
    }
    let error = error_of(pipeline! { read_parquet::<NotNullNote>(file.clone()) });
    assert!(
        error.contains(&file) && error.contains("`note`") && error.contains("null"),
        "{error}"
    );

    let csv = file_with(&tmp, "no_price.csv", "id,cost\n1,2.0\n");
    let error = error_of(pipeline! { read_csv::<Priced>(csv.clone()) });
    assert!(error.contains(&csv) && error.contains("`price`"), "{error}");
}

#[test]
fn csv_rows_and_json_lines_that_do_not_parse() {
    let tmp = dir();
    let csv = file_with(&tmp, "bad.csv", "id,price\n1,2.0\n2,3.5\n3,cheap\n");
    let error = error_of(pipeline! { read_csv::<Priced>(csv.clone()) });
    assert!(error.contains(&csv) && error.contains("cheap"), "{error}");
    assert!(error.contains("line 4, column `price`"), "{error}");

    let json = path(tmp.path(), "bad.json");
    std::fs::write(
        &json,
        "{\"id\": 1, \"price\": 2.0}\n{\"id\": 2, \"price\": \n{\"id\": 3, \"price\": 1.0}\n",
    )
    .unwrap();
    let error = error_of(pipeline! { read_json::<Priced>(json.clone()) });
    assert!(error.contains(&json) && error.contains("line 2"), "{error}");

    let wrong = file_with(&tmp, "wrong.json", "{\"id\": 1, \"price\": \"free\"}\n");
    let error = error_of(pipeline! { read_json::<Priced>(wrong.clone()) });
    assert!(error.contains(&wrong) && error.contains("free"), "{error}");
}

#[test]
fn error_messages_read_well() {
    let tmp = dir();
    let csv = file_with(&tmp, "bad.csv", "id,price\n1,2.0\n3,cheap\n");
    let error = error_of(pipeline! { read_csv::<Priced>(csv.clone()) });
    assert_eq!(
        error,
        format!(
            "`{csv}`, line 3, column `price`: Error while parsing value 'cheap' as type 'Float64'"
        )
    );
}

#[test]
fn each_split_writes_its_own_files_in_parallel() {
    let tmp = dir();
    for part in 0..4 {
        let rows: Vec<Sale> = sales(400).into_iter().skip(part * 100).take(100).collect();
        write_sales(tmp.path(), &format!("in/{part}"), rows);
    }
    let out = path(tmp.path(), "out");
    let written = pipeline! {
        read_parquet::<Sale>(path(tmp.path(), "in/*/*.parquet"))
        |> filter(id % 2 == 0)
    }
    .write_parquet(&out)
    .unwrap();
    let names: Vec<&str> = written
        .files
        .iter()
        .map(|f| f.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "part-00000-00000.parquet",
            "part-00001-00000.parquet",
            "part-00002-00000.parquet",
            "part-00003-00000.parquet"
        ]
    );
    assert_eq!(written.rows, 200);
    let back = pipeline! { read_parquet::<Sale>(out) }.with_preserve_order(true);
    let expected: Vec<Sale> = sales(400).into_iter().filter(|s| s.id % 2 == 0).collect();
    assert_eq!(back.take_all().unwrap(), expected);
}

#[test]
fn an_empty_output_still_writes_a_readable_file() {
    let tmp = dir();
    for (format, name) in [("parquet", "p"), ("csv", "c"), ("json", "j")] {
        let out = path(tmp.path(), name);
        let ds = pipeline! { from_items::<Sale>(sales(10)) |> filter(id > 100) };
        let written = match format {
            "parquet" => ds.write_parquet(&out),
            "csv" => ds.write_csv(&out),
            _ => ds.write_json(&out),
        }
        .unwrap();
        assert_eq!((written.rows, written.files.len()), (0, 1), "{format}");
    }
    assert_eq!(
        pipeline! { read_parquet::<Sale>(path(tmp.path(), "p")) }
            .count()
            .unwrap(),
        0
    );
    assert_eq!(
        pipeline! { read_csv::<Sale>(path(tmp.path(), "c")) }
            .count()
            .unwrap(),
        0
    );
}

#[test]
fn a_limited_pipeline_writes_its_first_rows_in_order() {
    let tmp = dir();
    let out = path(tmp.path(), "out");
    let written =
        pipeline! { from_items::<Sale>(sales(100_000)) |> filter(id % 3 == 0) |> limit(10) }
            .with_preserve_order(true)
            .write_csv(&out)
            .unwrap();
    assert_eq!(written.rows, 10);
    let back: Vec<i64> = pipeline! { read_csv::<Sale>(out) }
        .take_all()
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(back, (0..10).map(|i| i * 3).collect::<Vec<_>>());
}

#[test]
fn filters_skip_parquet_row_groups_their_statistics_rule_out() {
    let tmp = dir();
    let file = path(tmp.path(), "sorted.parquet");
    write_row_groups(&file, 10_000, 1000);

    let ds = pipeline! { read_parquet::<Sale>(file.clone()) |> filter(id >= 9000 && id < 9100 && category != "x") };
    assert!(
        ds.explain()
            .contains("skip row groups unless id >= 9000 && id < 9100"),
        "{}",
        ds.explain()
    );
    assert_eq!(ds.count().unwrap(), 100);
    let stats = ds.stats().unwrap();
    assert_eq!(
        stats.operators[0].rows_out, 1000,
        "only the row group holding ids 9000..9999 is read\n{stats}"
    );

    let nothing = pipeline! { read_parquet::<Sale>(file) |> filter(price > 1e9) };
    assert_eq!(nothing.count().unwrap(), 0);
    assert_eq!(nothing.stats().unwrap().operators[0].rows_out, 0);
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Priced2 {
    id: i64,
    price: f64,
    note: Option<String>,
}

#[test]
fn files_are_cut_by_rows_and_bytes_and_partitioned_by_column() {
    let tmp = dir();
    let by_rows = path(tmp.path(), "by_rows");
    let written = pipeline! {
        from_items::<Sale>(sales(1000))
        |> write_csv(by_rows.clone(), rows_per_file = 300)
    }
    .run()
    .unwrap();
    let names: Vec<&str> = written
        .files
        .iter()
        .map(|f| f.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "part-00000-00000.csv",
            "part-00000-00001.csv",
            "part-00000-00002.csv",
            "part-00000-00003.csv"
        ]
    );
    let back = pipeline! { read_csv::<Sale>(by_rows) }.with_preserve_order(true);
    assert_eq!(back.take_all().unwrap(), sales(1000));

    let by_bytes = path(tmp.path(), "by_bytes");
    let written = pipeline! { from_items::<Sale>(sales(20_000)) |> write_json(by_bytes, bytes_per_file = 100_000) }
        .run()
        .unwrap();
    assert!(written.files.len() >= 5, "{} files", written.files.len());
    assert_eq!(written.rows, 20_000);

    let partitioned = path(tmp.path(), "partitioned");
    let written = pipeline! {
        from_items::<Sale>(sales(700))
        |> filter(id < 70)
        |> write_parquet(partitioned.clone(), partition_by = category)
    }
    .run()
    .unwrap();
    assert_eq!(written.files.len(), 7);
    assert!(
        written.files[0].ends_with("partitioned/category=c0/part-00000-00000.parquet"),
        "{:?}",
        written.files
    );
    let c3 = pipeline! { read_parquet::<Priced2>(path(tmp.path(), "partitioned/category=c3")) };
    let ids: Vec<i64> = c3.take_all().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, (0..70).filter(|i| i % 7 == 3).collect::<Vec<_>>());
}

#[test]
fn a_large_parquet_file_is_read_in_row_group_splits() {
    let tmp = dir();
    let file = path(tmp.path(), "large.parquet");
    write_row_groups(&file, 600_000, 100_000);

    let ordered =
        pipeline! { read_parquet::<Sale>(file.clone()) |> select(id) }.with_preserve_order(true);
    let ids: Vec<i64> = ordered.take_all().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, (0..600_000).collect::<Vec<_>>());

    let failing = pipeline! {
        read_parquet::<Sale>(file)
        |> map(|s| -> Priced { assert!(s.id != 450_000, "bad row"); Priced { id: s.id, price: s.price } })
    };
    let error = failing.count().unwrap_err().to_string();
    assert!(
        error.contains("large.parquet, row groups 3..6"),
        "the error names the split: {error}"
    );
}

#[test]
fn large_line_files_are_cut_into_byte_ranges_at_line_boundaries() {
    let tmp = dir();
    let csv_dir = path(tmp.path(), "csv");
    let json_dir = path(tmp.path(), "json");
    pipeline! { from_items::<Sale>(sales(20_000)) }
        .write_csv(&csv_dir)
        .unwrap();
    pipeline! { from_items::<Sale>(sales(20_000)) }
        .write_json(&json_dir)
        .unwrap();
    let store = Arc::new(object_store::memory::InMemory::new());
    aqueduct::storage::register_store("memory://ranges", store);
    pipeline! { from_items::<Sale>(sales(20_000)) }
        .write_csv("memory://ranges/csv")
        .unwrap();

    // Ranges of 7,777 bytes: ~100 splits per file, most starting mid-line.
    let small = |ds: Dataset<Sale>| {
        ds.with_preserve_order(true)
            .with_options(aqueduct::ExecOptions {
                split_bytes: 7_777,
                preserve_order: true,
                ..aqueduct::ExecOptions::from_environment()
            })
    };
    let from_csv = small(pipeline! { read_csv::<Sale>(csv_dir) });
    assert_eq!(from_csv.take_all().unwrap(), sales(20_000));
    assert!(
        from_csv.stats().unwrap().operators[0].blocks_out > 20,
        "{}",
        from_csv.stats().unwrap()
    );
    let from_json = small(pipeline! { read_json::<Sale>(json_dir.clone()) });
    assert_eq!(from_json.take_all().unwrap(), sales(20_000));
    let remote = small(pipeline! { read_csv::<Sale>("memory://ranges/csv") });
    assert_eq!(remote.take_all().unwrap(), sales(20_000));
    let lines = pipeline! { read_text(json_dir) }.with_options(aqueduct::ExecOptions {
        split_bytes: 5_000,
        ..aqueduct::ExecOptions::from_environment()
    });
    assert_eq!(lines.count().unwrap(), 20_000);

    // A bad value deep in a large file is found in its split, and named by the file's line.
    let bad = path(tmp.path(), "bad.csv");
    let mut text = String::from("id,price\n");
    for i in 0..5000 {
        text.push_str(&if i == 4321 {
            format!("{i},cheap\n")
        } else {
            format!("{i},{i}.5\n")
        });
    }
    std::fs::write(&bad, text).unwrap();
    let ds = pipeline! { read_csv::<Priced>(bad) }.with_options(aqueduct::ExecOptions {
        split_bytes: 10_000,
        ..aqueduct::ExecOptions::from_environment()
    });
    let error = error_of(ds);
    assert!(
        error.contains("line 4323,") && error.contains("column `price`") && error.contains("cheap"),
        "{error}"
    );
}

#[test]
fn locations_are_paths_or_strings() {
    let tmp = dir();
    let out: std::path::PathBuf = tmp.path().join("by path");
    pipeline! { from_items::<Sale>(sales(10)) }
        .write_parquet(&out)
        .unwrap();
    let back = pipeline! { read_parquet::<Sale>(out.clone()) |> filter(id < 5) };
    assert_eq!(back.count().unwrap(), 5);
    let as_path: &std::path::Path = &out;
    assert_eq!(
        pipeline! { read_parquet::<Sale>(as_path) }.count().unwrap(),
        10
    );
    let copy = tmp.path().join("copy");
    pipeline! { read_parquet::<Sale>(&out) |> write_csv(copy.clone()) }
        .run()
        .unwrap();
    assert_eq!(pipeline! { read_csv::<Sale>(copy) }.count().unwrap(), 10);
}

#[test]
fn a_parquet_file_that_makes_the_decoder_panic_is_an_error_naming_it() {
    // Found by fuzzing (`fuzz/`, target `parquet`): a footer whose column chunk has a negative
    // offset makes arrow-rs assert; the run must fail with the file's name, not panic.
    #[derive(Record, Debug)]
    struct Row {
        id: i64,
        name: Option<String>,
        price: Option<f64>,
    }
    let tmp = dir();
    let bytes = include_bytes!("data/negative_column_offset.parquet");
    // From an object store (the reader that asserted) and from a local file.
    let store = Arc::new(object_store::memory::InMemory::new());
    aqueduct::storage::register_store("memory://damaged", store.clone());
    futures::executor::block_on(object_store::ObjectStoreExt::put(
        &*store,
        &object_store::path::Path::from("f.parquet"),
        bytes.to_vec().into(),
    ))
    .unwrap();
    let remote = "memory://damaged/f.parquet".to_owned();
    let local = file_with(&tmp, "damaged.parquet", bytes);
    let mut errors = Vec::new();
    for (file, threads) in [(&remote, 1), (&remote, 2), (&local, 1)] {
        let whole = pipeline! { read_parquet::<Row>(file.clone()) };
        // Projected, with row-group statistics: the path that asserted.
        let projected =
            pipeline! { read_parquet::<Row>(file.clone()) |> filter(id > 3) |> select(name) };
        for error in [
            whole
                .with_threads(threads)
                .count()
                .expect_err("a damaged file must fail"),
            projected
                .with_threads(threads)
                .count()
                .expect_err("a damaged file must fail"),
        ] {
            let error = error.to_string();
            assert!(error.contains(file.as_str()), "{error}");
            errors.push(error);
        }
    }
    assert!(
        errors.iter().any(|e| e.contains("decoder failed")),
        "{errors:?}"
    );
}

#[test]
fn a_json_record_must_end_on_its_line_whole_or_cut() {
    // Found by fuzzing (`fuzz/`, target `json`): a record across two lines (here a raw newline
    // inside a string) was read when the file was read whole and refused when it was cut in
    // byte ranges. JSON lines hold one record per line: refused both ways, naming the line.
    let tmp = dir();
    let json = file_with(
        &tmp,
        "spanning.json",
        "{\"id\": 1, \"price\": 2.0}\n{\"id\": 2, \"note\": \"two\nlines\", \"price\": 1.0}\n",
    );
    for split_bytes in [usize::MAX, 8] {
        let options = aqueduct::ExecOptions {
            split_bytes,
            ..Default::default()
        };
        let error = pipeline! { read_json::<Priced>(json.clone()) }
            .with_options(options)
            .count()
            .expect_err("a record across lines must fail")
            .to_string();
        assert!(
            error.contains(&json) && error.contains("line 2"),
            "{split_bytes}: {error}"
        );
    }
    let pretty = file_with(
        &tmp,
        "pretty.json",
        "{\n  \"id\": 1,\n  \"price\": 2.0\n}\n",
    );
    let error = error_of(pipeline! { read_json::<Priced>(pretty.clone()) });
    assert!(
        error.contains("one record per line") && error.contains("line 1"),
        "{error}"
    );
}

#[test]
fn a_file_that_is_not_parquet_is_a_typed_error_with_its_cause() {
    let tmp = dir();
    let file = file_with(
        &tmp,
        "not.parquet",
        b"PAR1 this is no parquet file at all PAR1",
    );
    let error = pipeline! { read_parquet::<Sale>(file.clone()) }
        .count()
        .expect_err("not parquet");
    // Callers can match the kind and walk to the parquet reader's own error.
    let aqueduct::Error::Parquet { url, source } = &error else {
        panic!("expected Error::Parquet, got {error}");
    };
    assert!(url.contains("not.parquet"), "{url}");
    let cause = std::error::Error::source(&error).expect("a source");
    assert_eq!(cause.to_string(), source.to_string());
    assert!(
        error.to_string().contains("not a readable parquet file"),
        "{error}"
    );
}

#[test]
fn a_bad_glob_is_an_invalid_location_whose_cause_is_the_pattern_error() {
    let dir = tempfile::tempdir().unwrap();
    write_sales(dir.path(), "sales", sales(10));
    let location = format!("{}/sales/[*.parquet", dir.path().display());
    let error = pipeline! { read_parquet::<Sale>(location) }
        .count()
        .unwrap_err();
    assert!(error.to_string().contains("bad glob"), "{error:?}");
    let aqueduct::Error::InvalidLocation { url, reason } = &error else {
        panic!("{error:?}")
    };
    assert!(url.ends_with("[*.parquet"), "{url}");
    assert!(matches!(reason, aqueduct::Cause::Glob(_)), "{error:?}");
}
