//! groupby / aggregate, checked against plain Vec computations on random data.

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
    qty: i32,
    note: Option<String>,
}

fn sales(n: usize, seed: u64) -> Vec<Sale> {
    // A small LCG keeps the test free of extra dependencies and reproducible.
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
            category: format!("c{}", next() % 7),
            price: (next() % 10_000) as f64 / 100.0,
            qty: (next() % 10) as i32,
            note: (next() % 3 == 0).then(|| format!("n{}", next() % 5)),
        })
        .collect()
}

#[test]
fn groupby_aggregate_matches_a_reference() {
    // Several splits: partial states of one group meet in the merge.
    let rows = sales(200_000, 1);
    let ds = pipeline! {
        from_items::<Sale>(rows.clone())
        |> filter(price > 10.0 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> groupby(category)
        |> aggregate(total = sum(revenue), n = count(), top = max(qty), avg = mean(price), notes = count(note))
    };
    let got = ds.take_all().unwrap();
    let mut want: BTreeMap<String, (f64, u64, i32, f64, u64)> = BTreeMap::new();
    for s in rows.iter().filter(|s| s.price > 10.0 && s.qty >= 2) {
        let e = want
            .entry(s.category.clone())
            .or_insert((0.0, 0, i32::MIN, 0.0, 0));
        e.0 += s.price * s.qty as f64;
        e.1 += 1;
        e.2 = e.2.max(s.qty);
        e.3 += s.price;
        e.4 += s.note.is_some() as u64;
    }
    assert_eq!(got.len(), want.len());
    for (row, (category, (total, n, top, price_sum, notes))) in got.iter().zip(&want) {
        assert_eq!(&row.category, category);
        assert!((row.total - total).abs() < 1e-6 * total.abs().max(1.0));
        assert_eq!(row.n, *n);
        assert_eq!(row.top, Some(*top));
        assert!((row.avg.unwrap() - price_sum / *n as f64).abs() < 1e-9);
        assert_eq!(row.notes, *notes);
    }
}

#[test]
fn every_builtin_aggregate_on_nullable_and_plain_columns() {
    let rows = sales(20_000, 2);
    let ds = pipeline! {
        from_items::<Sale>(rows.clone())
        |> groupby(category)
        |> aggregate(
            sd = std(price),
            sd_pop = std(price, ddof = 0),
            median = quantile(price, 0.5),
            biggest = absmax(qty),
            kinds = unique(note),
            cheapest = min(price),
            first_note = first(note),
            last_id = last(id),
            notes = count(note),
            ids = sum(id)
        )
    };
    let got = ds.take_all().unwrap();
    let mut groups: BTreeMap<String, Vec<&Sale>> = BTreeMap::new();
    for s in &rows {
        groups.entry(s.category.clone()).or_default().push(s);
    }
    assert_eq!(got.len(), groups.len());
    for (row, (category, members)) in got.iter().zip(&groups) {
        assert_eq!(&row.category, category);
        let prices: Vec<f64> = members.iter().map(|s| s.price).collect();
        let n = prices.len() as f64;
        let mean = prices.iter().sum::<f64>() / n;
        let m2: f64 = prices.iter().map(|p| (p - mean) * (p - mean)).sum();
        assert!((row.sd.unwrap() - (m2 / (n - 1.0)).sqrt()).abs() < 1e-9);
        assert!((row.sd_pop.unwrap() - (m2 / n).sqrt()).abs() < 1e-9);
        let mut sorted = prices.clone();
        sorted.sort_by(f64::total_cmp);
        let position = 0.5 * (sorted.len() - 1) as f64;
        let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
        let median = sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo as f64);
        assert!((row.median.unwrap() - median).abs() < 1e-9);
        assert_eq!(row.biggest, members.iter().map(|s| s.qty.abs()).max());
        let mut kinds: Vec<String> = members.iter().filter_map(|s| s.note.clone()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(row.kinds, kinds);
        assert_eq!(row.cheapest, sorted.first().copied());
        // first/last are some value of the group (which split comes first is not defined).
        let notes: Vec<&String> = members.iter().filter_map(|s| s.note.as_ref()).collect();
        assert!(notes.contains(&row.first_note.as_ref().unwrap()));
        assert!(members.iter().any(|s| Some(s.id) == row.last_id));
        assert_eq!(row.notes, notes.len() as u64);
        assert_eq!(row.ids, members.iter().map(|s| s.id).sum::<i64>());
    }
}

#[test]
fn null_keys_form_their_own_group_sorted_first() {
    let rows = sales(5_000, 3);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> groupby(note)
        |> aggregate(n = count())
    }
    .take_all()
    .unwrap();
    let mut want: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for s in &rows {
        *want.entry(s.note.clone()).or_default() += 1;
    }
    let want: Vec<(Option<String>, u64)> = want.into_iter().collect();
    let got: Vec<(Option<String>, u64)> = got.into_iter().map(|r| (r.note, r.n)).collect();
    assert_eq!(got, want);
    assert_eq!(got[0].0, None);
}

#[test]
fn several_keys_and_unique() {
    let rows = sales(10_000, 4);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> groupby(category, qty)
        |> aggregate(n = count())
    }
    .take_all()
    .unwrap();
    let mut want: BTreeMap<(String, i32), u64> = BTreeMap::new();
    for s in &rows {
        *want.entry((s.category.clone(), s.qty)).or_default() += 1;
    }
    let got: Vec<((String, i32), u64)> = got
        .into_iter()
        .map(|r| ((r.category, r.qty), r.n))
        .collect();
    assert_eq!(got, want.into_iter().collect::<Vec<_>>());

    let categories = pipeline! { from_items::<Sale>(rows.clone()) |> unique(category) }
        .take_all()
        .unwrap();
    let mut want: Vec<String> = rows.iter().map(|s| s.category.clone()).collect();
    want.sort();
    want.dedup();
    assert_eq!(
        categories
            .into_iter()
            .map(|r| r.category)
            .collect::<Vec<_>>(),
        want
    );
}

#[test]
fn whole_dataset_aggregates_and_the_empty_dataset() {
    let rows = sales(3_000, 5);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> aggregate(n = count(), total = sum(qty), top = max(price), avg = mean(price))
    }
    .take_all()
    .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].n, rows.len() as u64);
    assert_eq!(got[0].total, rows.iter().map(|s| s.qty as i64).sum::<i64>());
    assert_eq!(got[0].top, rows.iter().map(|s| s.price).reduce(f64::max));

    let empty: Vec<Sale> = Vec::new();
    let got = pipeline! {
        from_items::<Sale>(empty)
        |> aggregate(n = count(), total = sum(qty), top = max(price), avg = mean(price))
    }
    .take_all()
    .unwrap();
    assert_eq!(
        got.len(),
        1,
        "an aggregate of nothing is one row of identities"
    );
    assert_eq!(
        (got[0].n, got[0].total, got[0].top, got[0].avg),
        (0, 0, None, None)
    );

    let empty: Vec<Sale> = Vec::new();
    let groups = pipeline! {
        from_items::<Sale>(empty) |> groupby(category) |> aggregate(n = count())
    }
    .take_all()
    .unwrap();
    assert!(groups.is_empty(), "no rows, no groups");
}

#[test]
fn nan_is_skipped_by_max_and_propagates_through_sum() {
    #[derive(Record, Debug, Clone)]
    struct Reading {
        sensor: i32,
        value: f64,
    }
    let rows = vec![
        Reading {
            sensor: 1,
            value: f64::NAN,
        },
        Reading {
            sensor: 1,
            value: 2.0,
        },
        Reading {
            sensor: 2,
            value: f64::NAN,
        },
    ];
    let got = pipeline! {
        from_items::<Reading>(rows)
        |> groupby(sensor)
        |> aggregate(top = max(value), total = sum(value))
    }
    .take_all()
    .unwrap();
    assert_eq!(got[0].top, Some(2.0));
    assert!(got[0].total.is_nan());
    assert!(got[1].top.unwrap().is_nan(), "only NaN: NaN");
}

/// The product of the values: a custom aggregate.
struct Product;

impl Aggregator<i32> for Product {
    type State = i64;
    type Output = i64;
    fn init(&self) -> i64 {
        1
    }
    fn accumulate(&self, state: &mut i64, value: i32) {
        *state *= value as i64;
    }
    fn merge(&self, state: &mut i64, other: i64) {
        *state *= other;
    }
    fn finish(&self, state: i64) -> i64 {
        state
    }
}

/// A custom aggregate that fails on a value.
struct Fussy;

impl Aggregator<i32> for Fussy {
    type State = ();
    type Output = bool;
    fn init(&self) {}
    fn accumulate(&self, _: &mut (), value: i32) {
        assert!(value != 7, "Fussy cannot take 7");
    }
    fn merge(&self, _: &mut (), _: ()) {}
    fn finish(&self, _: ()) -> bool {
        true
    }
}

#[test]
fn custom_aggregators_and_their_panics() {
    let rows = sales(2_000, 6);
    let got = pipeline! {
        from_items::<Sale>(rows.clone())
        |> filter(qty > 0 && qty < 3)
        |> groupby(category)
        |> aggregate(product: i64 = agg(Product, qty), n = count())
    }
    .take_all()
    .unwrap();
    for row in got {
        let ones_and_twos = rows
            .iter()
            .filter(|s| s.category == row.category && s.qty > 0 && s.qty < 3);
        let product: i64 = ones_and_twos.map(|s| s.qty as i64).product();
        assert_eq!(row.product, product);
    }
    let err = pipeline! {
        from_items::<Sale>(rows)
        |> groupby(category)
        |> aggregate(ok: bool = agg(Fussy, qty))
    }
    .take_all()
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("Fussy cannot take 7"), "{message}");
    assert!(
        message.contains("aggregate(ok: bool = agg(Fussy, qty))"),
        "{message}"
    );
}

#[test]
fn parquet_string_keys_read_as_dictionaries_group_the_same() {
    let rows = sales(100_000, 7);
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("sales").to_str().unwrap().to_owned();
    pipeline! { from_items::<Sale>(rows.clone()) }
        .write_parquet(&location)
        .unwrap();
    // The key is also read by the filter, through the same (dictionary) column.
    let by_category = pipeline! {
        read_parquet::<Sale>(location.clone())
        |> filter(category != "c3" && qty > 1)
        |> groupby(category)
        |> aggregate(n = count(), total = sum(qty))
    };
    let plan = by_category.explain();
    assert!(
        plan.contains("one loop per block updates the table"),
        "{plan}"
    );
    assert!(plan.contains("dictionary=[category]"), "{plan}");
    let got: Vec<(String, u64, i64)> = by_category
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| (r.category, r.n, r.total))
        .collect();
    let mut want: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for s in rows.iter().filter(|s| s.category != "c3" && s.qty > 1) {
        let e = want.entry(s.category.clone()).or_default();
        e.0 += 1;
        e.1 += s.qty as i64;
    }
    let want: Vec<(String, u64, i64)> = want.into_iter().map(|(k, (n, t))| (k, n, t)).collect();
    assert_eq!(got, want);

    // A nullable string key, with its null group.
    let by_note = pipeline! {
        read_parquet::<Sale>(location)
        |> groupby(note)
        |> aggregate(n = count())
    }
    .take_all()
    .unwrap();
    let mut want: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for s in &rows {
        *want.entry(s.note.clone()).or_default() += 1;
    }
    let got: Vec<(Option<String>, u64)> = by_note.into_iter().map(|r| (r.note, r.n)).collect();
    assert_eq!(got, want.into_iter().collect::<Vec<_>>());
}

#[test]
fn first_and_last_follow_the_input_order_whatever_the_threads() {
    // Found by the differential tests: partial states were merged in the order workers
    // finished their splits, so `first`/`last` changed from run to run.
    let rows = sales(60_000, 9);
    let mut want: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for s in &rows {
        want.entry(s.category.clone())
            .and_modify(|e| e.1 = s.id)
            .or_insert((s.id, s.id));
    }
    for (threads, budget) in [(1, 1 << 30), (4, 1 << 30), (4, 256 << 10)] {
        let options = aqueduct::ExecOptions {
            threads,
            memory_budget: budget,
            target_block_bytes: 16 << 10,
            ..Default::default()
        };
        let got: BTreeMap<String, (i64, i64)> = pipeline! {
            from_items::<Sale>(rows.clone())
            |> repartition(16)
            |> groupby(category)
            |> aggregate(first_id = first(id), last_id = last(id))
        }
        .with_options(options)
        .take_all()
        .unwrap()
        .into_iter()
        .map(|g| (g.category, (g.first_id.unwrap(), g.last_id.unwrap())))
        .collect();
        assert_eq!(got, want, "{threads} threads, budget {budget}");
    }
}

#[test]
fn many_groups_come_out_in_key_ranges_sorted_to_every_consumer() {
    // Past 65,536 groups with two threads, the output is cut into ranges of keys merged and
    // finished in parallel; every consumer still sees the groups sorted by key, and a group's
    // `first` / `last` still follow the input order.
    #[derive(Record, Debug, Clone)]
    struct Grouped {
        key: i64,
        n: u64,
        first_id: Option<i64>,
        last_id: Option<i64>,
    }
    let rows = sales(300_000, 11);
    let mut want: BTreeMap<i64, (u64, i64, i64)> = BTreeMap::new();
    for s in &rows {
        // Keys spread over the hash partitions, several rows per group from several splits.
        let key = (s.id * 7_919) % 150_001;
        want.entry(key)
            .and_modify(|e| {
                e.0 += 1;
                e.2 = s.id;
            })
            .or_insert((1, s.id, s.id));
    }
    let want: Vec<(i64, (u64, i64, i64))> = want.into_iter().collect();
    let grouped = pipeline! {
        from_items::<Sale>(rows.clone())
        |> repartition(12)
        |> with_column(key = (id * 7_919) % 150_001)
        |> groupby(key)
        |> aggregate::<Grouped>(n = count(), first_id = first(id), last_id = last(id))
    }
    .with_options(aqueduct::ExecOptions {
        threads: 2,
        ..aqueduct::ExecOptions::from_environment()
    });
    let as_tuples = |groups: Vec<_>| -> Vec<(i64, (u64, i64, i64))> {
        groups
            .into_iter()
            .map(|g: Grouped| (g.key, (g.n, g.first_id.unwrap(), g.last_id.unwrap())))
            .collect()
    };
    assert_eq!(as_tuples(grouped.take_all().unwrap()), want);
    assert_eq!(as_tuples(grouped.take(1_000).unwrap()), want[..1_000]);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grouped");
    let written = grouped.write_parquet(out.to_str().unwrap()).unwrap();
    assert!(ranges_written(&written.files) > 1, "{:?}", written.files);
    let location = out.to_str().unwrap().to_owned();
    let back = pipeline! { read_parquet::<Grouped>(location) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    assert_eq!(as_tuples(back), want);
}
