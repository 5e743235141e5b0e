//! Stages and consumers of `pipeline!`, on in-memory data, each checked against the same
//! computation written as plain Rust.

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
    qty: i32,
    note: Option<String>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Line {
    id: i64,
    total: f64,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Word {
    id: i64,
    word: String,
}

fn sales(n: i64) -> Vec<Sale> {
    (0..n)
        .map(|i| Sale {
            id: i,
            category: ["books", "games", "food"][i as usize % 3].to_owned(),
            price: (i % 50) as f64 * 1.5,
            qty: (i % 4) as i32,
            note: (i % 5 == 0).then(|| format!("note {i}")),
        })
        .collect()
}

#[test]
fn expression_stages_match_plain_rust() {
    let ds = pipeline! {
        from_items::<Sale>(sales(20_000))
        |> filter(price > 10 && qty >= 2 && category != "food")
        |> with_column(revenue = price * qty as f64)
        |> with_column(big: bool = if revenue > 100.0 { true } else { false })
        |> with_column(label = category)
        |> select(id, revenue, big, label)
        |> rename(label = kind)
    };
    let rows = ds.take_all().unwrap();
    let expected: Vec<(i64, f64, bool, String)> = sales(20_000)
        .into_iter()
        .filter(|s| s.price > 10.0 && s.qty >= 2 && s.category != "food")
        .map(|s| {
            let revenue = s.price * s.qty as f64;
            (s.id, revenue, revenue > 100.0, s.category)
        })
        .collect();
    let got: Vec<(i64, f64, bool, String)> = rows
        .into_iter()
        .map(|r| (r.id, r.revenue, r.big, r.kind))
        .collect();
    assert_eq!(got, expected);
    let schema = ds.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "revenue", "big", "kind"]);
}

#[test]
fn null_tests_methods_and_captured_values() {
    let threshold = 30.0;
    let ds = pipeline! {
        from_items::<Sale>(sales(100))
        |> filter(note.is_not_null() || price >= {threshold})
        |> with_column(note_len = note.unwrap_or("").len())
        |> with_column(root = price.sqrt().floor())
        |> drop(note, category)
    };
    let rows = ds.take_all().unwrap();
    let expected: Vec<(i64, u64, f64)> = sales(100)
        .into_iter()
        .filter(|s| s.note.is_some() || s.price >= threshold)
        .map(|s| {
            (
                s.id,
                s.note.map_or(0, |n| n.len() as u64),
                s.price.sqrt().floor(),
            )
        })
        .collect();
    let got: Vec<(i64, u64, f64)> = rows.iter().map(|r| (r.id, r.note_len, r.root)).collect();
    assert_eq!(got, expected);
}

fn double(x: f64) -> f64 {
    x * 2.0
}

#[test]
fn closures_and_user_functions() {
    let ds = pipeline! {
        from_items::<Sale>(sales(1000))
        |> filter(|s: &Sale| s.id % 3 == 0)
        |> with_column(doubled: f64 = double(price))
        |> map(|s| -> Line { Line { id: s.id, total: s.doubled + 1.0 } })
        |> filter(total > 20.0)
        |> flat_map(|l: Line| -> Vec<Word> { (0..l.id % 3).map(|k| Word { id: l.id, word: format!("w{k}") }).collect() })
        |> with_column(shout = word.len())
    };
    let expected: Vec<(i64, String, u64)> = sales(1000)
        .into_iter()
        .filter(|s| s.id % 3 == 0)
        .map(|s| Line {
            id: s.id,
            total: double(s.price) + 1.0,
        })
        .filter(|l| l.total > 20.0)
        .flat_map(|l| {
            (0..l.id % 3).map(move |k| (l.id, format!("w{k}"), format!("w{k}").len() as u64))
        })
        .collect();
    let got: Vec<(i64, String, u64)> = ds
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.word, r.shout))
        .collect();
    assert_eq!(got, expected);
    assert!(
        ds.explain()
            .contains("fused[filter → with_column → map → filter → flat_map → with_column]")
    );
}

#[test]
fn fused_and_unfused_give_identical_results() {
    let fused = pipeline! {
        from_items::<Sale>(sales(30_000))
        |> filter(qty > 0)
        |> with_column(revenue = price * qty as f64)
        |> filter(revenue < 150.0)
        |> map(|s| -> Line { Line { id: s.id, total: s.revenue } })
    };
    let unfused = pipeline! {
        #![no_fusion]
        from_items::<Sale>(sales(30_000))
        |> filter(qty > 0)
        |> with_column(revenue = price * qty as f64)
        |> filter(revenue < 150.0)
        |> map(|s| -> Line { Line { id: s.id, total: s.revenue } })
    };
    assert!(
        fused
            .explain()
            .contains("stage 1: fused[filter → with_column → filter → map]")
    );
    assert!(
        unfused.explain().contains("stage 4: map("),
        "{}",
        unfused.explain()
    );
    let (a, b) = (fused.to_arrow().unwrap(), unfused.to_arrow().unwrap());
    assert_eq!(a, b);
    assert!(a.iter().map(|b| b.num_rows()).sum::<usize>() > 1000);
}

#[test]
fn map_batches_typed_and_raw() {
    let typed = pipeline! {
        from_items::<Sale>(sales(10_000))
        |> map_batches(|rows: Vec<Sale>| -> Vec<Line> {
            vec![Line { id: rows[0].id, total: rows.iter().map(|r| r.price).sum() }]
        }, batch_size = 1000)
    };
    let lines = typed.take_all().unwrap();
    assert_eq!(lines.len(), 10);
    let expected: Vec<Line> = sales(10_000)
        .chunks(1000)
        .map(|c| Line {
            id: c[0].id,
            total: c.iter().map(|r| r.price).sum(),
        })
        .collect();
    assert_eq!(lines, expected);

    let scale = 10.0;
    let raw = pipeline! {
        from_items::<Sale>(sales(100))
        |> map_batches(move |batch: RecordBatch| -> aqueduct::Result<RecordBatch> {
            let price = batch.column_by_name("price").unwrap();
            let scaled = arrow::compute::kernels::numeric::mul(price, &arrow::array::Float64Array::new_scalar(scale))?;
            let index = batch.schema().index_of("price")?;
            let mut columns = batch.columns().to_vec();
            columns[index] = scaled;
            Ok(RecordBatch::try_new(batch.schema(), columns)?)
        })
        |> filter(price > 100.0)
    };
    let got: Vec<i64> = raw.take_all().unwrap().iter().map(|s| s.id).collect();
    let expected: Vec<i64> = sales(100)
        .iter()
        .filter(|s| s.price * scale > 100.0)
        .map(|s| s.id)
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn limit_take_and_other_consumers() {
    let ds = pipeline! { from_items::<Sale>(sales(50_000)) |> filter(qty == 1) |> limit(1234) };
    assert_eq!(ds.count().unwrap(), 1234);
    let first: Vec<i64> = ds.take(3).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(first, [1, 5, 9]);
    assert_eq!(ds.take_batch(10).unwrap().num_rows(), 10);
    let batches: Vec<usize> = ds
        .iter_batches(500)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .collect();
    assert_eq!(batches, [500, 500, 234]);
    let table = ds.format_rows(2).unwrap();
    assert!(
        table.contains("| id |") && table.contains("| 5  |"),
        "{table}"
    );

    let materialized = ds.materialize().unwrap();
    assert_eq!(materialized.count().unwrap(), 1234);
    assert_eq!(materialized.take_all().unwrap(), ds.take_all().unwrap());
    assert!(materialized.explain().contains("materialized"));
}

#[test]
fn empty_input_gives_empty_results() {
    let ds = pipeline! { from_items::<Sale>(Vec::new()) |> filter(price > 1.0) };
    assert_eq!(ds.count().unwrap(), 0);
    assert!(ds.take(5).unwrap().is_empty());
    assert_eq!(ds.take_batch(5).unwrap().num_rows(), 0);
    assert_eq!(ds.iter_batches(10).unwrap().count(), 0);
}

#[test]
fn a_panicking_user_function_is_an_error_naming_stage_and_block() {
    let ds = pipeline! {
        from_items::<Sale>(sales(20_000))
        |> map(|s| -> Line {
            if s.id == 12_345 {
                panic!("bad row {}", s.id);
            }
            Line { id: s.id, total: s.price }
        })
    };
    let error = ds.count().unwrap_err().to_string();
    assert!(error.contains("panicked"), "{error}");
    assert!(error.contains("map"), "{error}");
    assert!(error.contains("from_items[0], block 1"), "{error}");
    assert!(error.contains("bad row 12345"), "{error}");
}

#[test]
fn from_arrow_checks_batches_against_the_record() {
    let batch = Sale::to_batch(&sales(10));
    let ds = pipeline! { from_arrow::<Line>(vec![batch.clone()]) };
    let error = ds.count().unwrap_err().to_string();
    assert!(
        error.contains("from_arrow[0]") && error.contains("`total`"),
        "{error}"
    );
    let ok = pipeline! { from_arrow::<Sale>(vec![batch]) |> filter(id < 5) };
    assert_eq!(ok.count().unwrap(), 5);
}

#[test]
fn nullable_columns_compare_with_plain_values() {
    let equal = pipeline! { from_items::<Sale>(sales(100)) |> filter(note == "note 5") };
    assert_eq!(
        equal
            .take_all()
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [5]
    );
    let differ = pipeline! { from_items::<Sale>(sales(100)) |> filter(note != "note 5") };
    assert_eq!(
        differ.count().unwrap(),
        99,
        "a null differs from every value"
    );
}

fn scale_prices(rows: Vec<Sale>, factor: f64, label: String) -> Vec<Line> {
    rows.into_iter()
        .map(|s| Line {
            id: s.id,
            total: s.price * factor + label.len() as f64,
        })
        .collect()
}

#[test]
fn map_batches_passes_extra_arguments() {
    let label = String::from("abc");
    let ds = pipeline! {
        from_items::<Sale>(sales(50))
        |> map_batches::<Line>(scale_prices, batch_size = 16, args = (2.0, label))
    };
    let expected: Vec<Line> = sales(50)
        .into_iter()
        .map(|s| Line {
            id: s.id,
            total: s.price * 2.0 + 3.0,
        })
        .collect();
    assert_eq!(ds.take_all().unwrap(), expected);
}

#[test]
fn explain_renders_the_physical_plan_as_a_graph() {
    let ds = pipeline! {
        from_items::<Sale>(sales(10))
        |> filter(qty > 1)
        |> select(id, price)
        |> limit(3)
    };
    let mermaid = ds.explain_graph(aqueduct::GraphFormat::Mermaid);
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    assert!(
        mermaid.contains("n1[\"fused[filter → select]\"]"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("n0 --> n1") && mermaid.contains("n2 --> n3"),
        "{mermaid}"
    );
    let dot = ds.explain_graph("dot".parse().unwrap());
    assert!(
        dot.starts_with("digraph pipeline {") && dot.contains("n2 [label=\"limit(3)\"];"),
        "{dot}"
    );
    assert!("svg".parse::<aqueduct::GraphFormat>().is_err());
}

#[test]
fn negative_literals_keep_their_sign() {
    // Found by the differential tests: an untyped literal was written again once its type was
    // known, without its minus: `y >= -100` ran as `y >= 100`, `unwrap_or(-1.0)` gave 1.0.
    let rows = sales(200);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> filter(qty as i64 - 2 >= -1 && price * -1.0 > -30.0)
        |> with_column(shifted = id + -5)
        |> with_column(back = (id - 10).max(-2))
        |> with_column(floor = qty.min(-1))
        |> with_column(missing = note.is_null())
        |> with_column(low: i64 = -9223372036854775808)
    }
    .take_all()
    .unwrap();
    let want: Vec<(i64, i64, i64, i32)> = rows
        .iter()
        .filter(|s| s.qty as i64 - 2 >= -1 && -s.price > -30.0)
        .map(|s| (s.id, s.id - 5, (s.id - 10).max(-2), s.qty.min(-1)))
        .collect();
    let got_values: Vec<(i64, i64, i64, i32)> = got
        .iter()
        .map(|r| (r.id, r.shifted, r.back, r.floor))
        .collect();
    assert_eq!(got_values, want);
    assert!(got.iter().all(|r| r.low == i64::MIN));
}
