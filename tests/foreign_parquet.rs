//! Parquet written by other tools, in every shape they write the same values in: large and
//! view strings (Polars), dictionaries (pandas' categoricals), nanosecond and millisecond
//! timestamps (pandas), time zones, integers wider than declared, every codec, page format
//! v2, no statistics, no dictionary encoding. Each shape is written here with arrow-rs and
//! read with the record a user declares for the data.

use std::sync::Arc;

use aqueduct::chrono::{DateTime, NaiveDateTime, Utc};
use aqueduct::prelude::*;
use arrow::array::{
    ArrayRef, DictionaryArray, Int32Array, Int64Array, LargeStringArray, StringArray,
    StringViewArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

#[derive(Record, Debug, Clone, PartialEq)]
struct Sale {
    category: String,
    qty: i32,
    ts: NaiveDateTime,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct ZonedSale {
    category: String,
    qty: i32,
    ts: DateTime<Utc>,
}

const ROWS: i64 = 1_000;

fn categories() -> Vec<String> {
    (0..ROWS).map(|i| format!("c{}", i % 7)).collect()
}

fn micros(i: i64) -> i64 {
    1_700_000_000_000_000 + i * 1_000_003
}

/// The rows every shape holds, as the record reads them.
fn expected() -> Vec<Sale> {
    (0..ROWS)
        .map(|i| Sale {
            category: format!("c{}", i % 7),
            qty: i as i32 - 500,
            ts: DateTime::from_timestamp_micros(micros(i))
                .unwrap()
                .naive_utc(),
        })
        .collect()
}

fn file(
    dir: &tempfile::TempDir,
    name: &str,
    columns: Vec<(&str, ArrayRef)>,
    props: WriterProperties,
) -> String {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let path = dir.path().join(format!("{name}.parquet"));
    let out = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path.to_str().unwrap().to_owned()
}

fn qty32() -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(
        (0..ROWS).map(|i| i as i32 - 500),
    ))
}

fn ts_micros(zone: Option<&str>) -> ArrayRef {
    let array = TimestampMicrosecondArray::from_iter_values((0..ROWS).map(micros));
    Arc::new(match zone {
        Some(zone) => array.with_timezone(zone),
        None => array,
    })
}

fn plain() -> WriterProperties {
    WriterProperties::builder().build()
}

fn read(location: &str) -> Vec<Sale> {
    let mut rows = pipeline! { read_parquet::<Sale>(location) }
        .with_preserve_order(true)
        .take_all()
        .unwrap_or_else(|e| panic!("{location}: {e}"));
    rows.truncate(ROWS as usize);
    rows
}

#[test]
fn strings_in_every_representation() {
    let dir = tempfile::tempdir().unwrap();
    let large: ArrayRef = Arc::new(LargeStringArray::from_iter_values(categories()));
    let view: ArrayRef = Arc::new(StringViewArray::from_iter_values(categories()));
    let dictionary: ArrayRef = Arc::new(
        categories()
            .iter()
            .map(String::as_str)
            .collect::<DictionaryArray<Int32Type>>(),
    );
    for (name, strings) in [("large", large), ("view", view), ("dictionary", dictionary)] {
        let location = file(
            &dir,
            name,
            vec![
                ("category", strings),
                ("qty", qty32()),
                ("ts", ts_micros(None)),
            ],
            plain(),
        );
        assert_eq!(read(&location), expected(), "{name}");
        // The string column also as a group key (read as the file's dictionary).
        let groups = pipeline! {
            read_parquet::<Sale>(location.clone())
            |> groupby(category)
            |> aggregate(n = count())
        }
        .take_all()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(groups.len(), 7, "{name}");
        assert_eq!(groups.iter().map(|g| g.n).sum::<u64>(), ROWS as u64);
    }
}

#[test]
fn timestamps_in_every_unit_and_zone() {
    let dir = tempfile::tempdir().unwrap();
    let strings = || -> ArrayRef { Arc::new(StringArray::from_iter_values(categories())) };
    let nanos: ArrayRef = Arc::new(TimestampNanosecondArray::from_iter_values(
        (0..ROWS).map(|i| micros(i) * 1_000),
    ));
    // Milliseconds: whole milliseconds only, so compare against those.
    let millis: ArrayRef = Arc::new(TimestampMillisecondArray::from_iter_values(
        (0..ROWS).map(|i| micros(i) / 1_000),
    ));
    for (name, ts) in [
        ("ns", nanos),
        ("utc", ts_micros(Some("UTC"))),
        ("new_york", ts_micros(Some("America/New_York"))),
        ("offset", ts_micros(Some("+02:00"))),
    ] {
        let location = file(
            &dir,
            name,
            vec![("category", strings()), ("qty", qty32()), ("ts", ts)],
            plain(),
        );
        // Naive: the UTC time of each instant.
        assert_eq!(read(&location), expected(), "{name}");
        let zoned = pipeline! { read_parquet::<ZonedSale>(location.clone()) }
            .with_preserve_order(true)
            .take_all()
            .unwrap();
        assert_eq!(zoned[3].ts.naive_utc(), expected()[3].ts, "{name}");
    }
    let location = file(
        &dir,
        "ms",
        vec![("category", strings()), ("qty", qty32()), ("ts", millis)],
        plain(),
    );
    let rows = read(&location);
    assert_eq!(
        rows[5].ts,
        DateTime::from_timestamp_millis(micros(5) / 1_000)
            .unwrap()
            .naive_utc()
    );
}

#[test]
fn a_value_the_declared_type_cannot_hold_is_an_error_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let strings = || -> ArrayRef { Arc::new(StringArray::from_iter_values(categories())) };
    // int64 quantities that fit an i32: read.
    let wide: ArrayRef = Arc::new(Int64Array::from_iter_values((0..ROWS).map(|i| i - 500)));
    let location = file(
        &dir,
        "wide",
        vec![
            ("category", strings()),
            ("qty", wide),
            ("ts", ts_micros(None)),
        ],
        plain(),
    );
    assert_eq!(read(&location), expected());
    // One that does not: an error naming the column, the row and the value.
    let big: ArrayRef = Arc::new(Int64Array::from_iter_values(
        (0..ROWS).map(|i| if i == 700 { 1 << 40 } else { i }),
    ));
    let location = file(
        &dir,
        "big",
        vec![
            ("category", strings()),
            ("qty", big),
            ("ts", ts_micros(None)),
        ],
        plain(),
    );
    let error = pipeline! { read_parquet::<Sale>(location.clone()) }
        .count()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("big.parquet")
            && error.contains("`qty`")
            && error.contains("row 700")
            && error.contains("1099511627776")
            && error.contains("i32"),
        "{error}"
    );
    // A nanosecond the declared microseconds cannot hold.
    let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from_iter_values(
        (0..ROWS).map(|i| micros(i) * 1_000 + (i == 9) as i64),
    ));
    let location = file(
        &dir,
        "ns",
        vec![("category", strings()), ("qty", qty32()), ("ts", ns)],
        plain(),
    );
    let error = pipeline! { read_parquet::<Sale>(location.clone()) }
        .count()
        .unwrap_err()
        .to_string();
    assert!(error.contains("`ts`") && error.contains("row 9"), "{error}");
    // A type that is not the declared one at all speaks of the declared Rust type.
    let location = file(
        &dir,
        "text_qty",
        vec![
            ("category", strings()),
            ("qty", strings()),
            ("ts", ts_micros(None)),
        ],
        plain(),
    );
    let error = pipeline! { read_parquet::<Sale>(location.clone()) }
        .count()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("column `qty` holds String values, which the declared i32 cannot hold"),
        "{error}"
    );
}

#[test]
fn every_codec_page_format_and_writer_option() {
    let dir = tempfile::tempdir().unwrap();
    let strings = || -> ArrayRef { Arc::new(StringArray::from_iter_values(categories())) };
    let shapes = [
        (
            "uncompressed",
            WriterProperties::builder().set_compression(Compression::UNCOMPRESSED),
        ),
        (
            "snappy",
            WriterProperties::builder().set_compression(Compression::SNAPPY),
        ),
        (
            "gzip",
            WriterProperties::builder().set_compression(Compression::GZIP(GzipLevel::default())),
        ),
        (
            "lz4",
            WriterProperties::builder().set_compression(Compression::LZ4),
        ),
        (
            "lz4_raw",
            WriterProperties::builder().set_compression(Compression::LZ4_RAW),
        ),
        (
            "brotli",
            WriterProperties::builder()
                .set_compression(Compression::BROTLI(BrotliLevel::default())),
        ),
        (
            "zstd",
            WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())),
        ),
        (
            "v1_pages",
            WriterProperties::builder().set_writer_version(WriterVersion::PARQUET_1_0),
        ),
        (
            "v2_pages",
            WriterProperties::builder().set_writer_version(WriterVersion::PARQUET_2_0),
        ),
        (
            "no_statistics",
            WriterProperties::builder().set_statistics_enabled(EnabledStatistics::None),
        ),
        (
            "no_dictionary",
            WriterProperties::builder().set_dictionary_enabled(false),
        ),
        (
            "small_pages",
            WriterProperties::builder()
                .set_data_page_row_count_limit(64)
                .set_max_row_group_row_count(Some(100)),
        ),
    ];
    for (name, props) in shapes {
        let location = file(
            &dir,
            name,
            vec![
                ("category", strings()),
                ("qty", qty32()),
                ("ts", ts_micros(None)),
            ],
            props.build(),
        );
        assert_eq!(read(&location), expected(), "{name}");
        // Predicates pushed into the reader work on every shape too.
        let kept = pipeline! { read_parquet::<Sale>(location.clone()) |> filter(qty >= 400) }
            .count()
            .unwrap();
        assert_eq!(kept, 100, "{name}");
    }
}

#[test]
fn a_large_string_column_is_read_through_the_decoder_hint() {
    // The column arrives as the declared Utf8, not as large strings converted per block.
    let dir = tempfile::tempdir().unwrap();
    let large: ArrayRef = Arc::new(LargeStringArray::from_iter_values(categories()));
    let location = file(
        &dir,
        "large",
        vec![
            ("category", large),
            ("qty", qty32()),
            ("ts", ts_micros(None)),
        ],
        plain(),
    );
    let batches = pipeline! { read_parquet::<Sale>(location.clone()) }
        .to_arrow()
        .unwrap();
    assert_eq!(
        batches[0]
            .schema()
            .field_with_name("category")
            .unwrap()
            .data_type(),
        &DataType::Utf8
    );
}

#[test]
fn files_without_arrow_metadata_like_duckdbs() {
    // DuckDB and other non-Arrow writers store no Arrow schema: types come from parquet's own.
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("category", DataType::Utf8, true),
        Field::new("qty", DataType::Int64, true),
        Field::new("ts", ts_micros(Some("UTC")).data_type().clone(), true),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(categories())),
            Arc::new(Int64Array::from_iter_values((0..ROWS).map(|i| i - 500))),
            ts_micros(Some("UTC")),
        ],
    )
    .unwrap();
    let path = dir.path().join("duckdb_like.parquet");
    let options =
        parquet::arrow::arrow_writer::ArrowWriterOptions::new().with_skip_arrow_metadata(true);
    let mut writer = parquet::arrow::ArrowWriter::try_new_with_options(
        std::fs::File::create(&path).unwrap(),
        schema,
        options,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    assert_eq!(read(path.to_str().unwrap()), expected());
}
