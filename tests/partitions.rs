//! Hive-partitioned datasets both ways: `partition_by` writes `column=value/` directories with
//! values escaped as Hive does, and the file sources read them back with the partition columns
//! filled from the path, typed by the record; a pushed filter on a partition column skips the
//! files of the partitions it rules out.

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Tagged {
    id: i64,
    tag: Option<String>,
    year: i64,
    price: f64,
}

/// Values that need escaping, or rules: a separator, an escape look-alike, empty, dots, `=`.
const AWKWARD: [&str; 10] = [
    "a/b",
    "%2F",
    "",
    "..",
    ".",
    "=",
    "x=y",
    "100%",
    "ünï 数据",
    "tab\there",
];

fn rows(n: usize) -> Vec<Tagged> {
    (0..n)
        .map(|i| Tagged {
            id: i as i64,
            // Every eleventh a null: its own partition.
            tag: (i % 11 != 10).then(|| AWKWARD[i % 11 % AWKWARD.len()].to_owned()),
            year: 2020 + (i % 3) as i64,
            price: i as f64 / 4.0,
        })
        .collect()
}

fn sorted(mut rows: Vec<Tagged>) -> Vec<Tagged> {
    rows.sort_by_key(|r| r.id);
    rows
}

#[test]
fn awkward_partition_values_round_trip_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(2_000);
    for format in ["parquet", "csv", "json", "ipc"] {
        let out = dir.path().join(format).to_str().unwrap().to_owned();
        let written = match format {
            "parquet" => pipeline! { from_items::<Tagged>(rows.clone()) |> write_parquet(out.clone(), partition_by = (tag, year)) }.run(),
            "csv" => pipeline! { from_items::<Tagged>(rows.clone()) |> write_csv(out.clone(), partition_by = (tag, year)) }.run(),
            "json" => pipeline! { from_items::<Tagged>(rows.clone()) |> write_json(out.clone(), partition_by = (tag, year)) }.run(),
            _ => pipeline! { from_items::<Tagged>(rows.clone()) |> write_ipc(out.clone(), partition_by = (tag, year)) }.run(),
        }
        .unwrap();
        // One directory per (tag, year), escaped: `a/b` is one directory, not two.
        assert_eq!(written.files.len(), 33, "{format}: {:?}", written.files);
        assert!(
            written.files.iter().any(|f| f.contains("/tag=a%2Fb/year=")),
            "{:?}",
            written.files
        );
        assert!(written.files.iter().any(|f| f.contains("/tag=%252F/")));
        assert!(written.files.iter().any(|f| f.contains("/tag=/")));
        assert!(
            written
                .files
                .iter()
                .any(|f| f.contains("/tag=__HIVE_DEFAULT_PARTITION__/"))
        );
        let back = match format {
            "parquet" => pipeline! { read_parquet::<Tagged>(out.clone()) }.take_all(),
            "csv" => pipeline! { read_csv::<Tagged>(out.clone()) }.take_all(),
            "json" => pipeline! { read_json::<Tagged>(out.clone()) }.take_all(),
            _ => pipeline! { read_ipc::<Tagged>(out.clone()) }.take_all(),
        }
        .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(sorted(back), rows, "{format}");
    }
}

#[test]
fn a_filter_on_a_partition_column_skips_the_other_partitions_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sales").to_str().unwrap().to_owned();
    let rows = rows(3_000);
    pipeline! { from_items::<Tagged>(rows.clone()) |> write_parquet(out.clone(), partition_by = year) }
        .run()
        .unwrap();
    // Damage every file of 2020 and 2021: only a read that skips them can succeed.
    for year in [2020, 2021] {
        for file in std::fs::read_dir(dir.path().join(format!("sales/year={year}"))).unwrap() {
            std::fs::write(file.unwrap().path(), b"not parquet").unwrap();
        }
    }
    let recent = pipeline! { read_parquet::<Tagged>(out.clone()) |> filter(year >= 2022) };
    let want: Vec<Tagged> = rows.iter().filter(|r| r.year >= 2022).cloned().collect();
    assert_eq!(sorted(recent.take_all().unwrap()), want);
    // Without the filter the damaged files are read, and named.
    let all = pipeline! { read_parquet::<Tagged>(out.clone()) };
    let error = all.count().unwrap_err().to_string();
    assert!(
        error.contains("year=2020") || error.contains("year=2021"),
        "{error}"
    );
}

#[test]
fn a_partition_value_of_the_wrong_type_is_an_error_naming_file_and_column() {
    #[derive(Record, Debug, Clone, PartialEq)]
    struct Rest {
        id: i64,
        price: f64,
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("data/year=last/tag=x");
    std::fs::create_dir_all(&bad).unwrap();
    let file = bad.to_str().unwrap().to_owned();
    pipeline! { from_items::<Rest>(vec![Rest { id: 1, price: 2.0 }]) }
        .write_parquet(&file)
        .unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_owned();
    let error = pipeline! { read_parquet::<Tagged>(data.clone()) }
        .count()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("year=last") && error.contains("`year`") && error.contains("\"last\""),
        "{error}"
    );
    // Declared non-nullable, a null partition is refused by name too.
    #[derive(Record, Debug, Clone, PartialEq)]
    struct Strict {
        id: i64,
        tag: String,
    }
    let nulls = dir.path().join("nulls/tag=__HIVE_DEFAULT_PARTITION__");
    pipeline! { from_items::<Rest>(vec![Rest { id: 1, price: 2.0 }]) }
        .write_parquet(nulls.to_str().unwrap())
        .unwrap();
    let location = dir.path().join("nulls").to_str().unwrap().to_owned();
    let error = pipeline! { read_parquet::<Strict>(location) }
        .count()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`tag`") && error.contains("Option"),
        "{error}"
    );
}

#[test]
fn partition_columns_after_select_and_an_all_to_all_and_through_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ipc").to_str().unwrap().to_owned();
    let rows = rows(1_500);
    pipeline! { from_items::<Tagged>(rows.clone()) |> write_ipc(out.clone(), partition_by = year) }
        .run()
        .unwrap();
    // The partition column kept, the others dropped, sorted, and written again.
    let sorted_years = pipeline! {
        read_ipc::<Tagged>(out.clone())
        |> select(year, id)
        |> sort(desc(year), id)
    };
    let mut want: Vec<(i64, i64)> = rows.iter().map(|r| (r.year, r.id)).collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let got: Vec<(i64, i64)> = sorted_years
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| (r.year, r.id))
        .collect();
    assert_eq!(got, want);
    // The partition column dropped: nothing from the path is needed.
    let prices =
        pipeline! { read_ipc::<Tagged>(out.clone()) |> drop(year, tag) |> filter(id < 10) };
    assert_eq!(prices.count().unwrap(), 10);
    // Grouped by the partition column.
    let per_year = pipeline! {
        read_ipc::<Tagged>(out)
        |> groupby(year)
        |> aggregate(n = count())
    };
    let counts: Vec<(i64, u64)> = per_year
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| (r.year, r.n))
        .collect();
    assert_eq!(counts, vec![(2020, 500), (2021, 500), (2022, 500)]);
}

#[test]
fn a_read_of_partition_columns_only_keeps_every_row_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(1_500);
    let want = vec![(2020, 500), (2021, 500), (2022, 500)];
    for format in ["parquet", "csv", "json"] {
        let out = dir.path().join(format).to_str().unwrap().to_owned();
        let per_year = match format {
            "parquet" => {
                pipeline! { from_items::<Tagged>(rows.clone()) |> write_parquet(out.clone(), partition_by = year) }.run().unwrap();
                pipeline! { read_parquet::<Tagged>(out.clone()) |> groupby(year) |> aggregate(n = count()) }.take_all().map(|rows| rows.into_iter().map(|r| (r.year, r.n)).collect::<Vec<(i64, u64)>>())
            }
            "csv" => {
                pipeline! { from_items::<Tagged>(rows.clone()) |> write_csv(out.clone(), partition_by = year) }.run().unwrap();
                pipeline! { read_csv::<Tagged>(out.clone()) |> groupby(year) |> aggregate(n = count()) }.take_all().map(|rows| rows.into_iter().map(|r| (r.year, r.n)).collect::<Vec<(i64, u64)>>())
            }
            _ => {
                pipeline! { from_items::<Tagged>(rows.clone()) |> write_json(out.clone(), partition_by = year) }.run().unwrap();
                pipeline! { read_json::<Tagged>(out.clone()) |> groupby(year) |> aggregate(n = count()) }.take_all().map(|rows| rows.into_iter().map(|r| (r.year, r.n)).collect::<Vec<(i64, u64)>>())
            }
        };
        let counts = per_year.unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(counts, want, "{format}");
    }
}
