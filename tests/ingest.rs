//! Training ingest: exact batches, drop_last, a seeded local shuffle buffer, and
//! streaming_split sharing one run among several consumers.

use std::collections::BTreeSet;

use aqueduct::BatchOptions;
use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Row {
    id: i64,
}

fn rows(n: i64) -> Vec<Row> {
    (0..n).map(|id| Row { id }).collect()
}

fn ids(batch: &RecordBatch) -> Vec<i64> {
    Row::from_batch(batch)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

#[test]
fn drop_last_leaves_out_the_partial_batch() {
    let ds = pipeline! { from_items::<Row>(rows(1000)) };
    let sizes: Vec<usize> = ds
        .iter_batches_with(BatchOptions::new(300).drop_last(true))
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .collect();
    assert_eq!(sizes, [300, 300, 300]);
    let sizes: Vec<usize> = ds
        .iter_batches(300)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1000);
    assert_eq!(sizes.len(), 4);
}

#[test]
fn a_local_shuffle_buffer_is_seeded_and_loses_nothing() {
    let ds = pipeline! { from_items::<Row>(rows(20_000)) }.with_threads(2);
    let run = |seed: u64| -> Vec<Vec<i64>> {
        ds.iter_batches_with(BatchOptions::new(100).local_shuffle(2_000, seed))
            .unwrap()
            .map(|b| ids(&b.unwrap()))
            .collect()
    };
    let a = run(7);
    assert!(a.iter().all(|b| b.len() == 100));
    assert_eq!(a, run(7), "the same seed, the same batches");
    assert_ne!(a, run(8));
    let flat: Vec<i64> = a.iter().flatten().copied().collect();
    assert_ne!(flat, (0..20_000).collect::<Vec<_>>(), "shuffled");
    let mut sorted = flat.clone();
    sorted.sort();
    assert_eq!(sorted, (0..20_000).collect::<Vec<_>>(), "every row once");
    // A local shuffle: the first batch comes from the buffer filled by whole blocks (8,192
    // rows each from `from_items`), not from the whole dataset.
    assert!(a[0].iter().all(|&id| id < 2_000 + 8_192), "{:?}", a[0]);
}

#[test]
fn streaming_split_shares_one_run_among_consumers() {
    let ds = pipeline! { from_items::<Row>(rows(300_000)) |> filter(id % 3 != 0) };
    let shares = ds.streaming_split(3).unwrap();
    let seen: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                s.spawn(move || share.flat_map(|b| ids(&b.unwrap())).collect::<Vec<i64>>())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<i64> = seen.iter().flatten().copied().collect();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "disjoint shares");
    assert_eq!(distinct, (0..300_000).filter(|i| i % 3 != 0).collect());
}

#[test]
fn every_consumer_of_a_failed_run_gets_the_error() {
    let ds = pipeline! {
        from_items::<Row>(rows(100_000))
        |> map_batches(|batch: Vec<Row>| -> Vec<Row> {
            assert!(batch.iter().all(|r| r.id < 90_000), "row 90000 is poisoned");
            batch
        })
    };
    for share in ds.streaming_split(2).unwrap() {
        let errors: Vec<String> = share
            .filter_map(|b| b.err())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("row 90000 is poisoned"), "{errors:?}");
    }
}
