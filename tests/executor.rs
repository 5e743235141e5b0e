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
fn consume(ds: &Dataset<impl aqueduct::Record>) -> (usize, f64, usize, usize) {
    let mut stream = ds.iter_blocks().unwrap();
    let (mut rows, mut sum, mut largest) = (0, 0.0, 0);
    for block in stream.by_ref() {
        let block = block.unwrap();
        largest = largest.max(block.get_array_memory_size());
        rows += block.num_rows();
        let values = block.column_by_name("value").unwrap();
        let values = arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(values);
        sum += values.values().iter().map(|v| v.sqrt()).sum::<f64>();
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
