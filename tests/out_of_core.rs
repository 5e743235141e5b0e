//! All-to-all operators under a tiny memory budget spill to disk and give exactly what an
//! in-memory run gives; their spill files are gone afterwards, also after an error.

#[path = "shared/ranges.rs"]
mod ranges;

use aqueduct::ExecOptions;
use aqueduct::prelude::*;
use ranges::ranges_written;

#[derive(Record, Debug, Clone, PartialEq)]
struct Event {
    user: i64,
    kind: String,
    amount: i32,
}

fn events(n: usize, users: u64) -> Vec<Event> {
    let mut state = 42u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    (0..n)
        .map(|_| Event {
            user: (next() % users) as i64,
            kind: format!("k{}", next() % 3),
            amount: (next() % 1000) as i32 - 500,
        })
        .collect()
}

/// Options with a budget of `budget` bytes, spilling under `dir`.
fn tight(budget: usize, dir: &std::path::Path) -> ExecOptions {
    ExecOptions {
        memory_budget: budget,
        spill_dir: dir.to_path_buf(),
        threads: 2,
        ..ExecOptions::default()
    }
}

fn roomy() -> ExecOptions {
    ExecOptions {
        memory_budget: 1 << 30,
        threads: 2,
        ..ExecOptions::default()
    }
}

fn is_empty(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn groupby_with_many_keys_spills_and_matches_memory() {
    let rows = events(400_000, 150_000);
    let distinct: std::collections::BTreeSet<(i64, &str)> =
        rows.iter().map(|e| (e.user, e.kind.as_str())).collect();
    let distinct = distinct.len();
    let dir = tempfile::tempdir().unwrap();
    let ds = pipeline! {
        from_items::<Event>(rows.clone())
        |> groupby(user, kind)
        |> aggregate(n = count(), total = sum(amount), low = min(amount), high = max(amount))
    };
    let in_memory = ds.clone().with_options(roomy());
    let expected = in_memory.take_all().unwrap();
    assert_eq!(in_memory.stats().unwrap().spilled_bytes, 0);
    let spilled = ds.with_options(tight(512 << 10, dir.path()));
    let mut got = spilled.take_all().unwrap();
    let stats = spilled.stats().unwrap();
    assert!(
        stats.spilled_bytes > 1 << 20,
        "spilled {} bytes",
        stats.spilled_bytes
    );
    assert!(is_empty(dir.path()), "spill files removed");
    // Out of core, groups come out sorted within each output split, not across them.
    got.sort_by(|a, b| (a.user, &a.kind).cmp(&(b.user, &b.kind)));
    assert_eq!(expected.len(), distinct, "one row per group");
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
}

#[test]
fn sort_of_several_budgets_spills_and_matches_memory() {
    let rows = events(300_000, 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let ds = pipeline! { from_items::<Event>(rows.clone()) |> sort(user, desc(amount), kind) };
    let expected = ds.clone().with_options(roomy()).take_all().unwrap();
    let spilled = ds.with_options(tight(1 << 20, dir.path()));
    let got = spilled.take_all().unwrap();
    let stats = spilled.stats().unwrap();
    assert!(
        stats.spilled_bytes > 4 << 20,
        "spilled {} bytes",
        stats.spilled_bytes
    );
    assert!(is_empty(dir.path()));
    assert_eq!(got, expected);
    let mut want = rows;
    want.sort_by(|a, b| {
        a.user
            .cmp(&b.user)
            .then(b.amount.cmp(&a.amount))
            .then(a.kind.cmp(&b.kind))
    });
    let key = |e: &Event| (e.user, e.amount, e.kind.clone());
    assert_eq!(
        got.iter().map(key).collect::<Vec<_>>(),
        want.iter().map(key).collect::<Vec<_>>()
    );
}

#[test]
fn shuffle_and_map_groups_do_not_depend_on_the_budget() {
    let rows = events(100_000, 5_000);
    let dir = tempfile::tempdir().unwrap();
    let shuffle = pipeline! { from_items::<Event>(rows.clone()) |> random_shuffle(seed = 3) };
    let expected = shuffle.clone().with_options(roomy()).take_all().unwrap();
    let got = shuffle
        .with_options(tight(256 << 10, dir.path()))
        .take_all()
        .unwrap();
    assert_eq!(got, expected);

    let groups = pipeline! {
        from_items::<Event>(rows)
        |> groupby(user)
        |> map_groups(|group: Vec<Event>| -> Vec<Event> {
            let total: i32 = group.iter().map(|e| e.amount).sum();
            vec![Event { user: group[0].user, kind: format!("{}", group.len()), amount: total }]
        })
    };
    let expected = groups.clone().with_options(roomy()).take_all().unwrap();
    let spilled = groups.with_options(tight(256 << 10, dir.path()));
    let got = spilled.take_all().unwrap();
    assert!(spilled.stats().unwrap().spilled_bytes > 0);
    assert_eq!(got, expected);
    assert!(is_empty(dir.path()));
}

#[test]
fn spill_files_are_removed_after_an_error() {
    let rows = events(200_000, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let err = pipeline! {
        from_items::<Event>(rows)
        |> groupby(user)
        |> map_groups(|group: Vec<Event>| -> Vec<Event> {
            assert!(group[0].user < 900, "user {} is not allowed", group[0].user);
            group
        })
    }
    .with_options(tight(256 << 10, dir.path()))
    .count()
    .unwrap_err();
    assert!(err.to_string().contains("user 900 is not allowed"), "{err}");
    assert!(is_empty(dir.path()));
}

#[test]
fn an_unwritable_spill_directory_is_a_clear_error() {
    let rows = events(200_000, 100_000);
    let err = pipeline! { from_items::<Event>(rows) |> sort(user) }
        .with_options(tight(64 << 10, std::path::Path::new("/nonexistent/spill")))
        .count()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot spill to `/nonexistent/spill`"),
        "{err}"
    );
}

#[test]
fn a_groupby_holds_its_groups_not_every_splits_partial_states() {
    // 16 splits, each seeing nearly all of 6,000 groups and handing them on once (a table
    // fits the budget's share of a worker): their partial states together are more than this
    // budget lets an exchange hold (half of it), while the groups are not. Folded in order as
    // the splits finish, nothing spills.
    let rows = events(1_000_000, 2_000);
    let dir = tempfile::tempdir().unwrap();
    let ds = pipeline! {
        from_items::<Event>(rows)
        |> groupby(user, kind)
        |> aggregate(n = count(), total = sum(amount), low = min(amount), high = max(amount))
    };
    let expected = ds.clone().with_options(roomy()).take_all().unwrap();
    // One worker: splits finish in order, so no chunk waits on an earlier split whatever the
    // timing (with several, a chunk may wait for the split before it to finish).
    let tight = ds.with_options(ExecOptions {
        threads: 1,
        ..tight(16 << 20, dir.path())
    });
    let got = tight.take_all().unwrap();
    assert_eq!(got, expected);
    assert_eq!(expected.len(), 6_000);
    assert_eq!(tight.stats().unwrap().spilled_bytes, 0);
}

#[test]
fn spilled_runs_merge_in_key_ranges_and_stay_in_order() {
    let rows = events(300_000, 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let ds = pipeline! { from_items::<Event>(rows) |> sort(user, desc(amount), kind) };
    let expected = ds.clone().with_options(roomy()).take_all().unwrap();
    // Runs spill under this budget, yet are few enough to merge at once: the output is cut
    // into ranges that start at the right block of each spilled run.
    let options = ExecOptions {
        split_bytes: 256 << 10,
        ..tight(8 << 20, dir.path())
    };
    let spilled = ds.with_options(options);
    let out = dir.path().join("sorted");
    let written = spilled.write_parquet(out.to_str().unwrap()).unwrap();
    assert!(spilled.stats().unwrap().spilled_bytes > 0);
    assert!(ranges_written(&written.files) > 2, "{:?}", written.files);
    let location = out.to_str().unwrap().to_owned();
    let back = pipeline! { read_parquet::<Event>(location) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    assert_eq!(back, expected);
    assert!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .all(|e| e.unwrap().file_name() == "sorted"),
        "spill files removed"
    );
}
