//! `select`, `drop` and `rename` of source columns, alone and combined, before and after
//! fusion, projection pushdown, predicate pushdown, dictionary keys and all-to-all
//! operators: a pipeline that compiles must run on its own column names. Each pipeline runs
//! four ways (parquet and in-memory source, fused and `#![no_fusion]`) and is checked
//! against plain Rust.

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Item {
    id: i64,
    name: String,
    price: f64,
    qty: i32,
    tag: Option<String>,
}

fn items() -> Vec<Item> {
    (0..3_000)
        .map(|i| Item {
            id: i,
            name: format!("n{}", i % 11),
            price: (i % 40) as f64 * 0.5,
            qty: (i % 5) as i32,
            tag: (i % 3 == 0).then(|| format!("t{}", i % 4)),
        })
        .collect()
}

/// The items as parquet: three files of several row groups (so that predicate pushdown and
/// dictionary-encoded keys are in play).
fn parquet_items() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(250))
        .build();
    for (n, chunk) in items().chunks(1_000).enumerate() {
        let file = std::fs::File::create(dir.path().join(format!("items-{n}.parquet"))).unwrap();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, Item::schema(), Some(props.clone()))
                .unwrap();
        writer.write(&Item::to_batch(chunk)).unwrap();
        writer.close().unwrap();
    }
    dir
}

/// Runs the stages four ways and returns each way's rows, mapped by `|$r| $row` and sorted.
macro_rules! four_ways {
    (|$r:ident| $row:expr; $($stages:tt)*) => {{
        let dir = parquet_items();
        let location = dir.path().to_str().unwrap().to_owned();
        vec![
            way("parquet, fused", pipeline! {
                read_parquet::<Item>(location.clone()) $($stages)*
            }, |$r| $row),
            way("parquet, unfused", pipeline! {
                #![no_fusion]
                read_parquet::<Item>(location.clone()) $($stages)*
            }, |$r| $row),
            way("items, fused", pipeline! {
                from_items::<Item>(items()) $($stages)*
            }, |$r| $row),
            way("items, unfused", pipeline! {
                #![no_fusion]
                from_items::<Item>(items()) $($stages)*
            }, |$r| $row),
        ]
    }};
}

/// The rows of `ds`, mapped by `row` and sorted; an error names the way.
fn way<R: Record, T: PartialOrd>(
    name: &'static str,
    ds: Dataset<R>,
    row: impl Fn(R) -> T,
) -> (&'static str, Vec<T>) {
    let rows = ds
        .take_all()
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", ds.explain()));
    let mut rows: Vec<T> = rows.into_iter().map(row).collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (name, rows)
}

fn check<T: PartialOrd + std::fmt::Debug>(got: Vec<(&str, Vec<T>)>, mut expected: Vec<T>) {
    expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert!(!expected.is_empty());
    for (way, rows) in got {
        assert_eq!(rows.len(), expected.len(), "{way}: row count");
        assert!(rows == expected, "{way}: {rows:?}");
    }
}

#[test]
fn a_renamed_source_column_is_read_by_its_old_name() {
    let got = four_ways!(|r| (r.id, r.cost);
        |> rename(price = cost)
        |> filter(cost > 15.0)
        |> select(id, cost)
    );
    let expected = items()
        .into_iter()
        .filter(|i| i.price > 15.0)
        .map(|i| (i.id, i.price))
        .collect();
    check(got, expected);
}

#[test]
fn rename_after_select_and_filter_and_before_with_column() {
    let got = four_ways!(|r| (r.id, r.total);
        |> select(id, price, qty)
        |> filter(qty > 1)
        |> rename(price = cost)
        |> with_column(total = cost * qty as f64)
        |> drop(cost, qty)
    );
    let expected = items()
        .into_iter()
        .filter(|i| i.qty > 1)
        .map(|i| (i.id, i.price * i.qty as f64))
        .collect();
    check(got, expected);
}

#[test]
fn a_renamed_column_passes_through_untouched() {
    let got = four_ways!(|r| (r.key, r.label, r.tag);
        |> rename(id = key, name = label)
        |> drop(price, qty)
    );
    let expected = items().into_iter().map(|i| (i.id, i.name, i.tag)).collect();
    check(got, expected);
}

#[test]
fn pairs_of_one_rename_apply_in_order() {
    // `price` becomes `cost`, then `qty` takes the freed name `price`.
    let got = four_ways!(|r| (r.id, r.cost, r.price);
        |> rename(price = cost, qty = price)
        |> filter(price >= 2)
        |> select(id, cost, price)
    );
    let expected = items()
        .into_iter()
        .filter(|i| i.qty >= 2)
        .map(|i| (i.id, i.price, i.qty))
        .collect();
    check(got, expected);
}

#[test]
fn a_renamed_group_key_and_aggregated_column() {
    let got = four_ways!(|r| (r.label, r.n, r.total);
        |> rename(name = label, price = cost)
        |> groupby(label)
        |> aggregate(n = count(), total = sum(cost))
    );
    let mut groups = std::collections::BTreeMap::<String, (u64, f64)>::new();
    for i in items() {
        let g = groups.entry(i.name).or_default();
        g.0 += 1;
        g.1 += i.price;
    }
    let expected = groups.into_iter().map(|(k, (n, t))| (k, n, t)).collect();
    check(got, expected);
}

#[test]
fn rename_and_select_after_an_all_to_all_operator() {
    let got = four_ways!(|r| (r.key, r.cost);
        |> sort(desc(price), id)
        |> rename(id = key)
        |> select(key, price)
        |> rename(price = cost)
        |> filter(cost < 3.0)
    );
    let expected = items()
        .into_iter()
        .filter(|i| i.price < 3.0)
        .map(|i| (i.id, i.price))
        .collect();
    check(got, expected);
}

#[test]
fn a_renamed_column_read_by_a_closure() {
    let got = four_ways!(|r| (r.id, r.cost);
        |> rename(price = cost)
        |> filter(|row| row.qty == 3)
        |> select(id, cost)
    );
    let expected = items()
        .into_iter()
        .filter(|i| i.qty == 3)
        .map(|i| (i.id, i.price))
        .collect();
    check(got, expected);
}

#[test]
fn a_renamed_nullable_column_is_tested_and_unwrapped() {
    let got = four_ways!(|r| (r.id, r.label);
        |> rename(tag = marker)
        |> filter(marker.is_not_null() && qty < 4)
        |> with_column(label = marker.unwrap_or("none"))
        |> select(id, label)
    );
    let expected = items()
        .into_iter()
        .filter(|i| i.tag.is_some() && i.qty < 4)
        .map(|i| (i.id, i.tag.unwrap()))
        .collect();
    check(got, expected);
}

#[test]
fn a_gpu_marked_stage_between_reshaping_stages() {
    // Not fused with its neighbours: its block must carry exactly what later stages read.
    let got = four_ways!(|r| (r.id, r.double, r.hot);
        |> drop(name)
        |> rename(price = cost)
        |> with_columns(double = cost * 2.0, hot = qty > 2, num_gpus = 1)
        |> select(id, double, hot)
    );
    let expected = items()
        .into_iter()
        .map(|i| (i.id, i.price * 2.0, i.qty > 2))
        .collect();
    check(got, expected);
}

#[test]
fn dropped_columns_stay_dropped_through_a_sort_and_a_map() {
    let got = four_ways!(|r| (r.id, r.tag);
        |> drop(name, price)
        |> sort(id)
        |> map(|row| -> Tagged { Tagged { id: row.id, tag: row.tag } })
    );
    let expected = items().into_iter().map(|i| (i.id, i.tag)).collect();
    check(got, expected);
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Tagged {
    id: i64,
    tag: Option<String>,
}

#[test]
fn a_column_read_only_in_an_else_branch_is_fetched() {
    // Found by the differential tests: projection pushdown took an `else { .. }` for a
    // `{ rust }` capture and did not read its columns: "missing column `qty`" at run time.
    let got = four_ways!(|r| (r.id, r.w, r.v);
        |> with_column(w = if price > 10.0 { id } else { qty as i64 })
        |> with_column(v = if id % 2 == 0 { 0.0 } else if qty > 2 { price } else { -1.0 })
        |> select(id, w, v)
    );
    let expected = items()
        .into_iter()
        .map(|i| {
            let w = if i.price > 10.0 { i.id } else { i.qty as i64 };
            let v = if i.id % 2 == 0 {
                0.0
            } else if i.qty > 2 {
                i.price
            } else {
                -1.0
            };
            (i.id, w, v)
        })
        .collect();
    check(got, expected);
}
