//! sort, random_shuffle, randomize_block_order, repartition and map_groups, checked against
//! plain Vec computations.

#[path = "shared/ranges.rs"]
mod ranges;

use std::collections::BTreeMap;

use aqueduct::prelude::*;
use ranges::ranges_written;

#[derive(Record, Debug, Clone, PartialEq)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
    qty: Option<i32>,
}

fn sales(n: usize, seed: u64) -> Vec<Sale> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    (0..n)
        .map(|i| Sale {
            id: i as i64,
            category: format!("c{}", next() % 5),
            price: (next() % 1000) as f64 / 10.0,
            qty: (next() % 4 != 0).then(|| (next() % 10) as i32),
        })
        .collect()
}

#[test]
fn sort_by_several_columns_descending_with_nulls_last() {
    let rows = sales(30_000, 1);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> sort(category, desc(qty), id)
    }
    .take_all()
    .unwrap();
    let mut want = rows.clone();
    want.sort_by(|a, b| {
        a.category
            .cmp(&b.category)
            // descending, nulls last
            .then_with(|| match (a.qty, b.qty) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(x), Some(y)) => y.cmp(&x),
            })
            .then_with(|| a.id.cmp(&b.id))
    });
    assert_eq!(got, want);
}

#[test]
fn floats_sort_in_total_order_with_every_nan_greatest() {
    // Found by the differential tests: a NaN with its sign bit set (x86's `inf - inf`) sorted
    // before every number, a positive one after; NaNs with payloads sorted by payload, so that
    // ties among NaNs came out in another order spilled than in memory (the property tests).
    let negative_nan = f64::from_bits(0xfff8_0000_0000_0000);
    let values = [
        1.5,
        negative_nan,
        f64::INFINITY,
        0.0,
        f64::NAN,
        -0.0,
        f64::NEG_INFINITY,
        -2.0,
        f64::INFINITY - f64::INFINITY,
        // A NaN with a payload: NaNs tie whatever their bits.
        f64::from_bits(0x7ff8_0000_0000_0001),
    ];
    let rows: Vec<Sale> = (0..4_000)
        .map(|i| Sale {
            id: i,
            category: String::new(),
            price: values[i as usize % values.len()],
            qty: None,
        })
        .collect();
    for descending in [false, true] {
        // Several runs merged: the merge compares rows in arrow's row format.
        let options = aqueduct::ExecOptions {
            memory_budget: 64 << 10,
            target_block_bytes: 4 << 10,
            ..Default::default()
        };
        let got: Vec<f64> = if descending {
            pipeline! { from_items::<Sale>(rows.clone()) |> sort(desc(price), id) }
                .with_options(options)
                .take_all()
        } else {
            pipeline! { from_items::<Sale>(rows.clone()) |> sort(price, id) }
                .with_options(options)
                .take_all()
        }
        .unwrap()
        .into_iter()
        .map(|s| s.price)
        .collect();
        let rank = |v: f64| if v.is_nan() { f64::NAN } else { v };
        let mut want: Vec<f64> = rows.iter().map(|s| s.price).collect();
        want.sort_by(|a, b| rank(*a).total_cmp(&rank(*b)));
        if descending {
            want.reverse();
        }
        let bits = |v: &[f64]| -> Vec<u64> { v.iter().map(|&x| rank(x).to_bits()).collect() };
        assert_eq!(bits(&got), bits(&want), "descending: {descending}");
    }
}

#[test]
fn sort_with_nulls_first() {
    let rows = sales(2_000, 2);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> sort(qty, id, nulls_first = true)
    }
    .take_all()
    .unwrap();
    let mut want = rows;
    want.sort_by(|a, b| a.qty.cmp(&b.qty).then_with(|| a.id.cmp(&b.id)));
    assert_eq!(got, want, "Option's order puts None first");
}

#[test]
fn random_shuffle_is_a_reproducible_permutation() {
    let rows = sales(20_000, 3);
    let shuffled = |seed: u64| {
        pipeline! { from_items::<Sale>(rows.clone()) |> random_shuffle(seed = seed) }
            .with_threads(2)
            .take_all()
            .unwrap()
    };
    let a = shuffled(7);
    assert_eq!(a, shuffled(7), "the same seed gives the same order");
    assert_ne!(a, shuffled(8));
    assert_ne!(a, rows, "the order changed");
    let mut ids: Vec<i64> = a.iter().map(|s| s.id).collect();
    ids.sort();
    assert_eq!(ids, (0..20_000).collect::<Vec<_>>(), "a permutation");
    // The order does not depend on the number of threads.
    let one_thread = pipeline! { from_items::<Sale>(rows.clone()) |> random_shuffle(seed = 7) }
        .with_threads(1)
        .take_all()
        .unwrap();
    assert_eq!(a, one_thread);
}

#[test]
fn randomize_block_order_keeps_blocks_whole() {
    let rows = sales(100_000, 4);
    let ds = pipeline! { from_items::<Sale>(rows.clone()) |> randomize_block_order(seed = 1) }
        .with_preserve_order(true);
    let blocks = ds.to_arrow().unwrap();
    let firsts: Vec<i64> = blocks
        .iter()
        .map(|b| Sale::from_batch(b).unwrap()[0].id)
        .collect();
    let mut sorted = firsts.clone();
    sorted.sort();
    assert_ne!(firsts, sorted, "blocks moved");
    for block in &blocks {
        let ids: Vec<i64> = Sale::from_batch(block)
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "a block stays in order"
        );
    }
    assert_eq!(
        blocks.iter().map(|b| b.num_rows()).sum::<usize>(),
        rows.len()
    );
    let again = ds.to_arrow().unwrap();
    assert_eq!(blocks, again);
}

#[test]
fn repartition_makes_n_nearly_equal_ordered_splits() {
    let rows = sales(10_001, 5);
    let ds = pipeline! {
        from_items::<Sale>(rows.clone())
        |> repartition(3)
        // Batches never span splits: a large batch size shows each split as one batch.
        |> map_batches(|batch: RecordBatch| batch, batch_size = 1_000_000)
    }
    .with_preserve_order(true);
    let blocks = ds.to_arrow().unwrap();
    assert_eq!(blocks.len(), 3);
    let sizes: Vec<usize> = blocks.iter().map(|b| b.num_rows()).collect();
    assert_eq!(sizes, vec![3333, 3334, 3334]);
    let ids: Vec<i64> = ds.take_all().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, (0..10_001).collect::<Vec<_>>());
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Top {
    category: String,
    id: i64,
    price: f64,
}

#[test]
fn map_groups_sees_each_whole_group_once() {
    let rows = sales(20_000, 6);
    // The most expensive sale of each category, ties broken by id.
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> groupby(category)
        |> map_groups(|group: Vec<Sale>| -> Vec<Top> {
            let best = group
                .iter()
                .max_by(|a, b| a.price.total_cmp(&b.price).then(b.id.cmp(&a.id)))
                .unwrap();
            vec![Top { category: best.category.clone(), id: best.id, price: best.price }]
        })
    }
    .take_all()
    .unwrap();
    let mut want: BTreeMap<String, &Sale> = BTreeMap::new();
    for s in &rows {
        let e = want.entry(s.category.clone()).or_insert(s);
        if s.price > e.price || (s.price == e.price && s.id < e.id) {
            *e = s;
        }
    }
    let want: Vec<Top> = want
        .into_values()
        .map(|s| Top {
            category: s.category.clone(),
            id: s.id,
            price: s.price,
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_panic_in_map_groups_names_the_stage_and_group() {
    let rows = sales(1_000, 7);
    let err = pipeline! {
        from_items::<Sale>(rows)
        |> groupby(category)
        |> map_groups(|group: Vec<Sale>| -> Vec<Sale> {
            assert!(group[0].category != "c3", "cannot handle c3");
            group
        })
    }
    .count()
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot handle c3"), "{err}");
    assert!(err.contains("map_groups"), "{err}");
    assert!(err.contains("block 3"), "the fourth group: {err}");
}

#[test]
fn stages_after_an_all_to_all_operator_run_on_its_output() {
    let rows = sales(5_000, 8);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> filter(price >= 50.0)
        |> sort(desc(price), id)
        |> with_column(cents = (price * 100.0) as i64)
        |> select(id, cents)
        |> limit(10)
    }
    .take_all()
    .unwrap();
    let mut want: Vec<&Sale> = rows.iter().filter(|s| s.price >= 50.0).collect();
    want.sort_by(|a, b| b.price.total_cmp(&a.price).then(a.id.cmp(&b.id)));
    let want: Vec<(i64, i64)> = want
        .iter()
        .take(10)
        .map(|s| (s.id, (s.price * 100.0) as i64))
        .collect();
    assert_eq!(
        got.iter().map(|r| (r.id, r.cents)).collect::<Vec<_>>(),
        want
    );
}

/// Options under which a sort's output of a few hundred KiB is cut into several ranges of keys
/// (about one per `split_bytes`), merged in parallel.
fn in_ranges() -> aqueduct::ExecOptions {
    aqueduct::ExecOptions {
        split_bytes: 32 << 10,
        threads: 2,
        ..aqueduct::ExecOptions::from_environment()
    }
}

#[test]
fn a_sort_cut_into_ranges_comes_out_in_order_to_every_consumer() {
    let rows = sales(40_000, 9);
    let sorted = pipeline! {
        from_items::<Sale>(rows.clone())
        |> sort(desc(price), id)
    }
    .with_options(in_ranges());
    let mut want = rows.clone();
    want.sort_by(|a, b| b.price.total_cmp(&a.price).then(a.id.cmp(&b.id)));
    assert_eq!(sorted.take_all().unwrap(), want);
    assert_eq!(sorted.take(1_000).unwrap(), want[..1_000]);
    let limited = pipeline! {
        from_items::<Sale>(rows.clone())
        |> sort(desc(price), id)
        |> limit(10)
    }
    .with_options(in_ranges());
    assert_eq!(limited.take_all().unwrap(), want[..10]);

    // Written, each range makes its own files, and the files in name order are the sorted
    // output.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sorted");
    let written = sorted.write_parquet(out.to_str().unwrap()).unwrap();
    assert!(ranges_written(&written.files) > 2, "{:?}", written.files);
    let location = out.to_str().unwrap().to_owned();
    let back = pipeline! { read_parquet::<Sale>(location) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    assert_eq!(back, want);
}

#[test]
fn map_groups_over_key_ranges_sees_each_group_once() {
    #[derive(Record, Debug, Clone)]
    struct Bucketed {
        id: i64,
        category: String,
        price: f64,
        qty: Option<i32>,
        bucket: i64,
    }
    // `rows`: a field name the derive's own code once used.
    #[derive(Record, Debug, Clone, PartialEq)]
    struct Bucket {
        bucket: i64,
        rows: i64,
        ids: i64,
    }
    let rows = sales(40_000, 10);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> with_column(bucket = id % 997)
        |> groupby(bucket)
        |> map_groups(|group: Vec<Bucketed>| -> Vec<Bucket> {
            vec![Bucket {
                bucket: group[0].bucket,
                rows: group.len() as i64,
                ids: group.iter().map(|s| s.id).sum(),
            }]
        })
    }
    .with_options(in_ranges())
    .take_all()
    .unwrap();
    let mut want: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for s in &rows {
        let e = want.entry(s.id % 997).or_default();
        e.0 += 1;
        e.1 += s.id;
    }
    let want: Vec<Bucket> = want
        .into_iter()
        .map(|(bucket, (rows, ids))| Bucket { bucket, rows, ids })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_panic_in_map_groups_over_ranges_names_the_stage_and_its_range() {
    let rows = sales(40_000, 11);
    let err = pipeline! {
        from_items::<Sale>(rows)
        |> groupby(id)
        |> map_groups(|group: Vec<Sale>| -> Vec<Sale> {
            assert!(group[0].id != 39_000, "cannot handle 39000");
            group
        })
    }
    .with_options(in_ranges())
    .count()
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot handle 39000"), "{err}");
    // The stage is the operator as written; the range is where in its output the group was.
    let stage = err.split('`').nth(1).unwrap();
    assert!(stage.ends_with("group })"), "{err}");
    assert!(err.contains("})["), "{err}");
}
