//! The streaming executor: the memory budget bounds the bytes of blocks in flight, whatever
//! the input size, and never stalls a run.

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Reading {
    id: i64,
    value: f64,
    label: String,
}

fn readings(n: i64) -> Vec<Reading> {
    (0..n)
        .map(|id| Reading {
            id,
            value: id as f64 * 0.5,
            label: format!("sensor {}", id % 97),
        })
        .collect()
}

/// Consume every block, doing some work per block so the workers run ahead of the consumer.
/// Returns (rows, sum of ids, largest block, peak bytes in flight).
fn consume(ds: &Dataset<impl aqueduct::Record>) -> (usize, i64, usize, usize) {
    let mut stream = ds.iter_blocks().unwrap();
    let (mut rows, mut sum, mut largest) = (0, 0, 0);
    for block in stream.by_ref() {
        let block = block.unwrap();
        largest = largest.max(block.get_array_memory_size());
        rows += block.num_rows();
        let values = block.column_by_name("value").unwrap();
        let values = arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(values);
        std::hint::black_box(values.values().iter().map(|v| v.sqrt()).sum::<f64>());
        let ids = block.column_by_name("id").unwrap();
        sum += arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(ids)
            .values()
            .iter()
            .sum::<i64>();
    }
    (rows, sum, largest, stream.peak_bytes_in_flight())
}

#[test]
fn blocks_in_flight_never_exceed_the_memory_budget() {
    let n = 1_000_000;
    let unbounded = pipeline! { from_items::<Reading>(readings(n)) |> filter(id % 3 != 0) };
    let (rows, sum, largest, _) = consume(&unbounded);
    assert_eq!(rows, (0..n).filter(|i| i % 3 != 0).count());

    let budget = 4 * largest;
    let bounded = unbounded.clone().with_memory_budget(budget);
    let (rows_bounded, sum_bounded, _, peak) = consume(&bounded);
    assert_eq!(
        (rows_bounded, sum_bounded),
        (rows, sum),
        "the budget changes nothing in the result"
    );
    assert!(
        peak <= budget,
        "peak {peak} bytes in flight over a budget of {budget}"
    );
    assert!(
        peak >= largest / 2,
        "the accounting saw blocks ({peak} bytes at peak)"
    );
}

#[test]
fn a_budget_smaller_than_one_block_runs_one_block_at_a_time() {
    let ds = pipeline! { from_items::<Reading>(readings(200_000)) }.with_memory_budget(1000);
    let (rows, _, largest, peak) = consume(&ds);
    assert_eq!(rows, 200_000);
    assert!(
        peak <= largest,
        "one block at a time: peak {peak}, largest block {largest}"
    );
}

#[test]
fn stats_count_rows_through_every_operator() {
    let ds = pipeline! {
        from_items::<Reading>(readings(100_000))
        |> filter(id % 4 == 0)
        |> map_batches(|b: RecordBatch| b, batch_size = 1000)
        |> limit(20_000)
    };
    assert!(ds.stats().is_none(), "nothing has run yet");
    assert_eq!(ds.count().unwrap(), 20_000);
    let stats = ds.stats().unwrap();
    let names: Vec<&str> = stats.operators.iter().map(|o| o.name.as_str()).collect();
    assert!(names[0].starts_with("from_items"), "{names:?}");
    assert_eq!(
        names[1..],
        [
            "filter",
            "map_batches(|b: RecordBatch| b, batch_size = 1000)",
            "limit(20000)",
            "output"
        ]
    );
    let [source, filter, batches, limit, output] = stats.operators.as_slice() else {
        panic!("{stats}")
    };
    assert_eq!(filter.rows_in, source.rows_out);
    assert_eq!(batches.rows_in, filter.rows_out);
    assert!(
        batches.blocks_out >= 20,
        "batches of 1000 rows: {}",
        batches.blocks_out
    );
    assert_eq!(limit.rows_out, 20_000);
    assert_eq!(output.rows_out, 20_000);
    let table = stats.to_string();
    assert!(
        table.contains("map_batches") && table.contains("peak"),
        "{table}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let written = pipeline! { from_items::<Reading>(readings(1000)) |> filter(id < 10) };
    written.write_parquet(out.to_str().unwrap()).unwrap();
    let stats = written.stats().unwrap();
    let sink = stats.operators.last().unwrap();
    assert!(sink.name.starts_with("write_parquet"), "{stats}");
    assert_eq!(sink.rows_in, 10);
}

#[test]
fn stopping_early_leaves_no_worker_waiting() {
    // Many splits and a limit: workers are waiting for tickets when the limit is reached.
    let ds = pipeline! { from_items::<Reading>(readings(2_000_000)) |> limit(10) }.with_threads(2);
    for _ in 0..3 {
        assert_eq!(ds.take(5).unwrap().len(), 5);
        assert_eq!(ds.count().unwrap(), 10);
    }
    let mut stream = ds.iter_blocks().unwrap();
    assert!(stream.next().is_some());
    drop(stream);
}

#[test]
fn order_is_kept_when_asked_and_rows_are_the_same_either_way() {
    let ordered = pipeline! { from_items::<Reading>(readings(600_000)) |> filter(id % 7 == 0) }
        .with_preserve_order(true);
    let ids: Vec<i64> = ordered.take_all().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, (0..600_000).filter(|i| i % 7 == 0).collect::<Vec<_>>());
    let first: Vec<i64> = ordered.take(3).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(first, [0, 7, 14]);

    let unordered = ordered.clone().with_preserve_order(false);
    let mut any_order: Vec<i64> = unordered.take_all().unwrap().iter().map(|r| r.id).collect();
    any_order.sort_unstable();
    assert_eq!(any_order, ids);
}

#[test]
fn options_come_from_the_process_then_the_dataset() {
    let defaults = aqueduct::ExecOptions::from_environment();
    assert!(defaults.threads >= 1 && defaults.memory_budget > 0);
    let ds = pipeline! { from_items::<Reading>(readings(10)) }
        .with_threads(3)
        .with_memory_budget(1 << 20);
    let options = ds.options();
    assert_eq!((options.threads, options.memory_budget), (3, 1 << 20));
    assert_eq!(aqueduct::parse_bytes("2GiB"), Some(2 << 30));
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Wide {
    id: i64,
    payload: String,
}

#[test]
fn blocks_bigger_than_the_target_are_cut() {
    // flat_map makes blocks of ~8 MB; a 1 MB target cuts them into slices.
    let ds = pipeline! {
        from_items::<Reading>(readings(100))
        |> flat_map(|r| -> Vec<Wide> { (0..1000).map(|k| Wide { id: r.id * 1000 + k, payload: "x".repeat(80) }).collect() })
    }
    .with_options(aqueduct::ExecOptions { target_block_bytes: 1 << 20, ..aqueduct::ExecOptions::from_environment() });
    let mut blocks = 0;
    let mut rows = 0;
    for block in ds.iter_blocks().unwrap() {
        let block = block.unwrap();
        blocks += 1;
        rows += block.num_rows();
        // A row holds its 8-byte id and 80 bytes of payload at least.
        assert!(
            block.num_rows() * (8 + 80) <= 1 << 20,
            "{} rows",
            block.num_rows()
        );
    }
    assert_eq!(rows, 100_000);
    assert!(blocks >= 8, "{blocks} blocks");
}
