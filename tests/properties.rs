//! Properties on random data (proptest): a pipeline fused and unfused computes what a plain
//! row-at-a-time loop computes, whatever the blocks, threads, memory budget and order; group-by
//! and sort give the same output spilled to disk or held in memory. Values include NaN, ±inf,
//! −0.0, integer extremes (arithmetic wraps, see README) and nulls.
//! `PROPTEST_CASES=2000 PROPTEST_RNG_SEED=random cargo test --release --test properties` is the
//! long mode (by default the same cases every run).

#[path = "shared/proptest_settings.rs"]
mod proptest_settings;

use aqueduct::ExecOptions;
use aqueduct::prelude::*;
use proptest::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Row {
    id: i64,
    k: i32,
    x: f64,
    n: i64,
    tag: Option<String>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Pair {
    id: i64,
    j: i64,
}

/// A float as comparable bits: every NaN as one (which of several NaNs a min or max keeps
/// depends on the order rows arrive in; NaN payloads carry no meaning here).
fn bits(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

fn rows(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Row>> {
    let float = prop_oneof![
        4 => -1e6f64..1e6,
        1 => prop::num::f64::ANY,
        1 => Just(f64::NAN),
        1 => Just(-0.0f64),
        1 => Just(f64::INFINITY),
    ];
    let int = prop_oneof![4 => -1000i64..1000, 1 => any::<i64>(), 1 => Just(i64::MIN), 1 => Just(i64::MAX)];
    let tag = prop::option::of("[a-c]{0,3}");
    prop::collection::vec((-3i32..4, float, int, tag), len).prop_map(|values| {
        values
            .into_iter()
            .enumerate()
            .map(|(i, (k, x, n, tag))| Row {
                id: i as i64,
                k,
                x,
                n,
                tag,
            })
            .collect()
    })
}

/// How a run is cut and scheduled: block sizes of the input, threads, budget, order.
#[derive(Debug, Clone)]
struct Setting {
    block_rows: usize,
    threads: usize,
    memory_budget: usize,
    preserve_order: bool,
}

fn settings() -> impl Strategy<Value = Setting> {
    (
        1usize..200,
        1usize..4,
        prop_oneof![Just(4096usize), Just(64 << 20)],
        any::<bool>(),
    )
        .prop_map(
            |(block_rows, threads, memory_budget, preserve_order)| Setting {
                block_rows,
                threads,
                memory_budget,
                preserve_order,
            },
        )
}

fn blocks(rows: &[Row], setting: &Setting) -> Vec<RecordBatch> {
    rows.chunks(setting.block_rows.max(1))
        .map(Row::to_batch)
        .collect()
}

fn options(setting: &Setting) -> ExecOptions {
    ExecOptions {
        threads: setting.threads,
        memory_budget: setting.memory_budget,
        preserve_order: setting.preserve_order,
        progress: false,
        ..ExecOptions::default()
    }
}

/// The rows of a run, as comparable tuples (floats by their bits), sorted when order was not
/// asked for.
fn sorted<T: Ord>(mut rows: Vec<T>, setting: &Setting) -> Vec<T> {
    if !setting.preserve_order {
        rows.sort();
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_settings::cases(64), rng_seed: proptest_settings::seed(), ..ProptestConfig::default() })]

    #[test]
    fn row_wise_stages_equal_a_plain_loop(rows in rows(0..400), setting in settings(), threshold in -10.0f64..10.0) {
        let expected: Vec<(i64, i64, u64, Option<String>)> = rows
            .iter()
            .filter(|r| r.x > threshold || r.k == 2)
            .map(|r| (r.id, r.n.wrapping_mul(3).wrapping_add(r.k as i64), r.x * 2.0 - 1.0, r.tag.clone()))
            .filter(|(_, y, _, tag)| tag.is_some() || y.wrapping_rem(2) == 0)
            .map(|(id, y, w, tag)| (id, y, w.to_bits(), tag))
            .collect();
        let fused = pipeline! {
            from_arrow::<Row>(blocks(&rows, &setting))
            |> filter(x > {threshold} || k == 2)
            |> with_column(y = n * 3 + k as i64)
            |> with_column(w = x * 2.0 - 1.0)
            |> filter(tag.is_not_null() || y % 2 == 0)
            |> select(id, y, w, tag)
        };
        let unfused = pipeline! {
            #![no_fusion]
            from_arrow::<Row>(blocks(&rows, &setting))
            |> filter(x > {threshold} || k == 2)
            |> with_column(y = n * 3 + k as i64)
            |> with_column(w = x * 2.0 - 1.0)
            |> filter(tag.is_not_null() || y % 2 == 0)
            |> select(id, y, w, tag)
        };
        for (way, got) in [
            ("fused", fused.with_options(options(&setting)).take_all().unwrap().into_iter().map(|r| (r.id, r.y, r.w.to_bits(), r.tag)).collect::<Vec<_>>()),
            ("unfused", unfused.with_options(options(&setting)).take_all().unwrap().into_iter().map(|r| (r.id, r.y, r.w.to_bits(), r.tag)).collect()),
        ] {
            prop_assert_eq!(sorted(got, &setting), expected.clone(), "{}", way);
        }
    }

    #[test]
    fn closures_equal_a_plain_loop(rows in rows(0..300), setting in settings()) {
        let expected: Vec<(i64, i64)> = rows
            .iter()
            .filter(|r| r.tag.as_deref() != Some(""))
            .flat_map(|r| (0..r.k.rem_euclid(3) as i64).map(move |j| (r.id, j)))
            .filter(|(_, j)| *j != 1)
            .collect();
        let ds = pipeline! {
            from_arrow::<Row>(blocks(&rows, &setting))
            |> filter(|r: &Row| r.tag.as_deref() != Some(""))
            |> flat_map(|r| -> Vec<Pair> { (0..r.k.rem_euclid(3) as i64).map(|j| Pair { id: r.id, j }).collect() })
            |> filter(j != 1)
        };
        let got: Vec<(i64, i64)> = ds.with_options(options(&setting)).take_all().unwrap().into_iter().map(|p| (p.id, p.j)).collect();
        prop_assert_eq!(sorted(got, &setting), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_settings::cases(12), rng_seed: proptest_settings::seed(), ..ProptestConfig::default() })]

    #[test]
    fn group_by_and_sort_spilled_equal_in_memory(rows in rows(2_000..4_000), block_rows in 50usize..500) {
        let setting = Setting { block_rows, threads: 2, memory_budget: 64 << 20, preserve_order: true };
        let spilling = ExecOptions { memory_budget: 16 << 10, ..options(&setting) };
        let groups = || pipeline! {
            from_arrow::<Row>(blocks(&rows, &setting))
            |> groupby(k, tag)
            |> aggregate(c = count(), s = sum(k), lo = min(x), hi = max(x), m = max(n))
        };
        let in_memory = groups().with_options(options(&setting));
        let spilled = groups().with_options(spilling.clone());
        macro_rules! run {
            ($ds:expr) => {
                $ds.take_all()
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.k, r.tag, r.c, r.s, r.lo.map(bits), r.hi.map(bits), r.m))
                    .collect::<Vec<_>>()
            };
        }
        // Groups come out sorted by key, spilled or not (this test found the spilled output
        // sorted only within each of its output splits).
        let (a, b) = (run!(in_memory), run!(spilled));
        prop_assert!(a.is_sorted_by(|x, y| (x.0, &x.1) <= (y.0, &y.1)), "sorted by key");
        let first_difference = a.iter().zip(&b).position(|(x, y)| x != y);
        prop_assert!(
            a.len() == b.len() && first_difference.is_none(),
            "{} groups in memory, {} spilled; first difference: {:?}",
            a.len(),
            b.len(),
            first_difference.map(|i| (&a[i], &b[i]))
        );
        prop_assert_eq!(a.iter().map(|g| g.2).sum::<u64>(), rows.len() as u64);

        let sort = || pipeline! {
            from_arrow::<Row>(blocks(&rows, &setting))
            |> sort(k, desc(x), id)
        };
        let sorted_in_memory = sort().with_options(options(&setting));
        let sorted_spilled = sort().with_options(spilling);
        let a: Vec<(i64, u64)> = sorted_in_memory.take_all().unwrap().iter().map(|r| (r.id, r.x.to_bits())).collect();
        let b: Vec<(i64, u64)> = sorted_spilled.take_all().unwrap().iter().map(|r| (r.id, r.x.to_bits())).collect();
        prop_assert_eq!(&a, &b);
        prop_assert!(sorted_spilled.stats().unwrap().spilled_bytes > 0, "the small budget spills");
        prop_assert_eq!(a.len(), rows.len());
    }
}
