//! `#[derive(Record)]`: schemas, round trips through Arrow for every supported field type,
//! typed columns and borrowing row views.

use aqueduct::Record;
use aqueduct::chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use arrow::datatypes::DataType;

#[derive(aqueduct::Record, Debug, Clone, PartialEq)]
struct Everything {
    a: i8,
    b: i16,
    c: i32,
    d: i64,
    e: u8,
    f: u16,
    g: u32,
    h: u64,
    x: f32,
    y: f64,
    flag: bool,
    name: String,
    maybe: Option<i64>,
    maybe_name: Option<String>,
    tags: Vec<String>,
    scores: Vec<Option<f64>>,
    embedding: [f32; 3],
    bytes: Vec<u8>,
    day: NaiveDate,
    at: NaiveDateTime,
    utc: DateTime<Utc>,
}

fn sample(i: i64) -> Everything {
    let utc = DateTime::from_timestamp(1_700_000_000 + i * 3600, 123_000).unwrap();
    Everything {
        a: i as i8,
        b: -(i as i16),
        c: i as i32 * 1000,
        d: i * 1_000_000_000_000,
        e: i as u8,
        f: i as u16,
        g: i as u32,
        h: u64::MAX - i as u64,
        x: i as f32 / 3.0,
        y: i as f64 / 7.0,
        flag: i % 2 == 0,
        name: format!("row {i}"),
        maybe: (i % 3 != 0).then_some(i),
        maybe_name: (i % 2 == 0).then(|| "x".repeat(i as usize)),
        tags: (0..i).map(|t| format!("t{t}")).collect(),
        scores: vec![Some(i as f64), None],
        embedding: [i as f32, 0.5, -1.0],
        bytes: vec![i as u8; i as usize],
        day: NaiveDate::from_ymd_opt(2024, 1, 1 + i as u32).unwrap(),
        at: utc.naive_utc(),
        utc,
    }
}

#[test]
fn schema_follows_the_struct() {
    let schema = Everything::schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names[..4], ["a", "b", "c", "d"]);
    let field = |n: &str| schema.field_with_name(n).unwrap().clone();
    assert_eq!(field("d").data_type(), &DataType::Int64);
    assert!(!field("d").is_nullable());
    assert!(field("maybe").is_nullable());
    assert_eq!(field("bytes").data_type(), &DataType::Binary);
    assert!(matches!(field("tags").data_type(), DataType::List(_)));
    assert!(matches!(
        field("embedding").data_type(),
        DataType::FixedSizeList(_, 3)
    ));
    assert_eq!(field("day").data_type(), &DataType::Date32);
    assert_eq!(Everything::NAME, "Everything");
}

#[test]
fn every_field_type_round_trips() {
    let rows: Vec<Everything> = (0..7).map(sample).collect();
    let batch = Everything::to_batch(&rows);
    assert_eq!(batch.num_rows(), 7);
    assert_eq!(batch.schema(), Everything::schema());
    assert_eq!(Everything::from_batch(&batch).unwrap(), rows);
}

#[test]
fn columns_and_row_views_borrow_from_the_batch() {
    let rows: Vec<Everything> = (0..4).map(sample).collect();
    let batch = Everything::to_batch(&rows);
    let columns = Everything::columns(&batch).unwrap();
    assert_eq!(columns.len(), 4);
    let view = Everything::row_ref(&columns, 2);
    assert_eq!(view.name, "row 2");
    assert_eq!(view.maybe_name, Some("xx"));
    assert_eq!(view.tags.len(), 2);
    assert_eq!(view.tags.get(1), "t1");
    assert_eq!(view.embedding.iter().collect::<Vec<_>>(), [2.0, 0.5, -1.0]);
    assert_eq!(view.bytes, &[2u8, 2][..]);
    assert_eq!(Everything::row(&columns, 3), rows[3]);
}

#[test]
fn a_batch_with_another_schema_is_refused_with_the_column_named() {
    #[derive(aqueduct::Record, Debug)]
    struct Other {
        d: String,
    }
    let batch = Everything::to_batch(&[sample(1)]);
    let error = Other::from_batch(&batch).unwrap_err();
    assert!(error.contains("`d`") && error.contains("Int64"), "{error}");

    #[derive(aqueduct::Record, Debug)]
    struct Missing {
        nope: i64,
    }
    let error = Missing::from_batch(&batch).unwrap_err();
    assert!(error.contains("missing column `nope`"), "{error}");

    #[derive(aqueduct::Record, Debug)]
    struct NotNull {
        maybe: i64,
    }
    let error = NotNull::from_batch(&Everything::to_batch(&[sample(0)])).unwrap_err();
    assert!(
        error.contains("null") && error.contains("`maybe`"),
        "{error}"
    );
}

/// Field names the derive's and the fused loop's own code might use.
#[derive(aqueduct::Record, Debug, Clone, PartialEq)]
struct Plain {
    rows: i64,
    len: i64,
    columns: String,
    builder: f64,
    batch: i32,
    row: bool,
    i: u32,
}

#[test]
fn fields_may_have_any_name() {
    use aqueduct::prelude::*;
    let items: Vec<Plain> = (0..5)
        .map(|n| Plain {
            rows: n,
            len: n * 2,
            columns: format!("c{n}"),
            builder: n as f64 / 2.0,
            batch: n as i32,
            row: n % 2 == 0,
            i: n as u32,
        })
        .collect();
    let got = pipeline! {
        from_items::<Plain>(items.clone())
        |> filter(rows >= 1 && row)
        |> with_column(len = len + rows)
    }
    .take_all()
    .unwrap();
    let got: Vec<_> = got
        .into_iter()
        .map(|p| (p.rows, p.len, p.columns, p.builder, p.batch, p.row, p.i))
        .collect();
    let want: Vec<_> = items
        .into_iter()
        .filter(|p| p.rows >= 1 && p.row)
        .map(|p| {
            (
                p.rows,
                p.len + p.rows,
                p.columns,
                p.builder,
                p.batch,
                p.row,
                p.i,
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(want.len(), 2);
}
