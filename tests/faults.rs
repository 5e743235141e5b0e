//! Transient storage failures are retried (the output is identical); a permanent failure ends
//! in a clear error naming the object, or, within the errored-block budget, is skipped and
//! reported; failing blocks of a stage are skipped and counted the same way.

use std::sync::Arc;
use std::time::Duration;

use aqueduct::faulty::FaultyStore;
use aqueduct::prelude::*;
use aqueduct::{ExecOptions, RetryPolicy};

#[derive(Record, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    id: i64,
    group: i64,
}

/// 20 parquet files of 5,000 rows in a faulty store registered at `url`.
fn store(url: &str) -> Arc<FaultyStore> {
    store_of(url, 20)
}

/// `files` parquet files of 5,000 rows.
fn store_of(url: &str, files: i64) -> Arc<FaultyStore> {
    let store = Arc::new(FaultyStore::new(Arc::new(
        object_store::memory::InMemory::new(),
    )));
    aqueduct::storage::register_store(url, store.clone());
    for file in 0..files {
        let rows: Vec<Row> = (0..5_000)
            .map(|i| Row {
                id: file * 5_000 + i,
                group: i % 7,
            })
            .collect();
        pipeline! { from_items::<Row>(rows) }
            .write_parquet(format!("{url}/in/{file:02}"))
            .unwrap();
    }
    store
}

fn patient() -> ExecOptions {
    ExecOptions {
        retry: RetryPolicy {
            retries: 12,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        threads: 2,
        ..ExecOptions::default()
    }
}

fn read(url: &str, options: ExecOptions) -> aqueduct::Result<Vec<Row>> {
    let mut rows = pipeline! { read_parquet::<Row>(format!("{url}/in/*/*.parquet")) }
        .with_options(options)
        .take_all()?;
    rows.sort();
    Ok(rows)
}

#[test]
fn ten_percent_transient_failures_change_nothing() {
    let url = "faulty-transient://data";
    let store = store(url);
    let clean = read(url, patient()).unwrap();
    assert_eq!(clean.len(), 100_000);
    store.set_failure_rate(0.10);
    let flaky = read(url, patient()).unwrap();
    assert!(store.injected() > 0, "failures were injected");
    assert_eq!(flaky, clean);

    // An aggregate over the flaky store gives the same groups.
    let groups = |options: ExecOptions| {
        pipeline! {
            read_parquet::<Row>(format!("{url}/in/*/*.parquet"))
            |> groupby(group)
            |> aggregate(n = count(), total = sum(id))
        }
        .with_options(options)
        .take_all()
        .unwrap()
    };
    let flaky_groups = groups(patient());
    store.set_failure_rate(0.0);
    assert_eq!(flaky_groups, groups(patient()));
}

#[test]
fn a_permanent_failure_is_named_or_skipped_within_the_budget() {
    let url = "faulty-permanent://data";
    let store = store(url);
    store.break_objects(Some("in/07/"));
    let err = read(url, patient()).unwrap_err().to_string();
    assert!(
        err.contains("faulty-permanent://data/in/07/"),
        "names the object: {err}"
    );
    assert!(err.contains("injected permanent failure"), "{err}");

    let mut budget = patient();
    budget.max_errored_blocks = 1;
    let ds =
        pipeline! { read_parquet::<Row>(format!("{url}/in/*/*.parquet")) }.with_options(budget);
    let rows = ds.take_all().unwrap();
    assert_eq!(rows.len(), 95_000, "one file's rows are missing");
    assert!(rows.iter().all(|r| !(35_000..40_000).contains(&r.id)));
    let stats = ds.stats().unwrap();
    assert_eq!(stats.errored_blocks.len(), 1);
    assert!(stats.errored_blocks[0].split.contains("in/07/"));
    assert_eq!(
        stats.errored_blocks[0].rows, None,
        "a failed read does not know its rows"
    );
    assert!(
        stats
            .to_string()
            .contains("skipped faulty-permanent://data/in/07/")
    );
}

#[test]
fn failing_blocks_of_a_stage_are_skipped_and_counted() {
    let rows: Vec<Row> = (0..100_000).map(|id| Row { id, group: 0 }).collect();
    let ds = pipeline! {
        from_items::<Row>(rows)
        |> map_batches(|batch: Vec<Row>| -> Vec<Row> {
            assert!(batch.iter().all(|r| r.id % 40_000 != 1), "a poisoned row");
            batch
        })
    };
    let err = ds.count().unwrap_err().to_string();
    assert!(err.contains("a poisoned row"), "{err}");

    let lenient = ds.clone().with_options(ExecOptions {
        max_errored_blocks: 3,
        ..ExecOptions::default()
    });
    let count = lenient.count().unwrap();
    let stats = lenient.stats().unwrap();
    // Rows 1, 40,001 and 80,001 poison their blocks of 8,192 rows.
    assert_eq!(stats.errored_blocks.len(), 3);
    let lost: usize = stats.errored_blocks.iter().map(|b| b.rows.unwrap()).sum();
    assert_eq!(count + lost, 100_000, "every row is delivered or counted");

    let strict = ds.with_options(ExecOptions {
        max_errored_blocks: 2,
        ..ExecOptions::default()
    });
    assert!(
        strict.count().is_err(),
        "a third failure past a budget of two fails the run"
    );
}

#[test]
fn a_permanent_failure_leaves_the_checkpoint_consistent() {
    let url = "faulty-checkpoint://data";
    let store = store(url);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    let checkpointed = || {
        let mut options = patient();
        options.checkpoint = Some(dir.path().join("checkpoint").to_str().unwrap().to_owned());
        options
    };
    let job = pipeline! {
        read_parquet::<Row>(format!("{url}/in/*/*.parquet"))
        |> with_column(twice = id * 2)
        |> write_parquet(out.clone())
    };
    store.break_objects(Some("in/13/"));
    let err = job.run_with(checkpointed()).unwrap_err().to_string();
    assert!(err.contains("in/13/"), "{err}");
    // The object comes back; the job resumes and completes, every row once.
    store.break_objects(None);
    store.set_failure_rate(0.05);
    let summary = job.run_with(checkpointed()).unwrap();
    assert_eq!(summary.rows, 100_000);
    #[derive(Record, Debug, Clone)]
    struct Twice {
        id: i64,
        twice: i64,
    }
    let mut ids: Vec<i64> = pipeline! { read_parquet::<Twice>(out) }
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.twice, r.id * 2);
            r.id
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (0..100_000).collect::<Vec<_>>());
}

#[test]
fn a_resumed_job_does_not_redo_the_work_before_an_all_to_all_operator() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static CRASH: AtomicBool = AtomicBool::new(true);
    let url = "faulty-exchange://data";
    // Few files: listing them for the checkpoint must not open them (footers are unreadable
    // on the resumed run).
    let store = store_of(url, 10);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    let mut options = patient();
    options.checkpoint = Some(dir.path().join("checkpoint").to_str().unwrap().to_owned());
    let job = pipeline! {
        read_parquet::<Row>(format!("{url}/in/*/*.parquet"))
        |> groupby(group)
        |> aggregate(n = count(), total = sum(id))
        |> map_batches(|batch: RecordBatch| {
            assert!(!CRASH.load(Ordering::SeqCst), "the machine died after the groupby");
            batch
        })
        |> write_parquet(out.clone())
    };
    let err = job.run_with(options.clone()).unwrap_err().to_string();
    assert!(err.contains("the machine died after the groupby"), "{err}");
    // From now on no input can be read: the resumed run must not need to.
    store.break_objects(Some("in/"));
    CRASH.store(false, Ordering::SeqCst);
    assert_eq!(job.run_with(options).unwrap().rows, 7);
    #[derive(Record, Debug, Clone)]
    struct Group {
        group: i64,
        n: u64,
        total: i64,
    }
    let mut groups = pipeline! { read_parquet::<Group>(out) }.take_all().unwrap();
    groups.sort_by_key(|g| g.group);
    for g in groups {
        let ids = (0..50_000i64).filter(|id| (id % 5_000) % 7 == g.group);
        assert_eq!(g.n, ids.clone().count() as u64);
        assert_eq!(g.total, ids.sum::<i64>());
    }
}

#[test]
fn a_checkpoint_in_an_object_store_resumes_a_job_writing_to_an_object_store() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static BLOCKS: AtomicUsize = AtomicUsize::new(0);
    let url = "faulty-remote-checkpoint://data";
    let store = store(url);
    let mut options = patient();
    options.checkpoint = Some(format!("{url}/checkpoint"));
    let out = format!("{url}/out");
    // A job that dies part-way (some splits committed, some half-written), then its input
    // breaks for good after the aggregate's output is saved.
    let job = pipeline! {
        read_parquet::<Row>(format!("{url}/in/*/*.parquet"))
        |> map_batches(|batch: RecordBatch| {
            assert!(BLOCKS.fetch_add(1, Ordering::SeqCst) != 9, "the machine died");
            batch
        })
        |> with_column(twice = id * 2)
        |> write_parquet(out.clone())
    };
    let err = job.run_with(options.clone()).unwrap_err().to_string();
    assert!(err.contains("the machine died"), "{err}");
    let list = |prefix: &str| -> Vec<String> {
        futures::executor::block_on_stream(object_store::ObjectStore::list(
            &*store,
            Some(&prefix.into()),
        ))
        .map(|o| o.unwrap().location.to_string())
        .collect()
    };
    let committed: Vec<usize> = list("checkpoint")
        .iter()
        .filter_map(|p| p.rsplit_once("/commits/split-")?.1.strip_suffix(".json"))
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        !committed.is_empty() && committed.len() < 20,
        "{committed:?}"
    );
    // What a crash between a file's put and its record leaves: a file of an uncommitted split.
    let uncommitted = (0..).find(|s| !committed.contains(s)).unwrap();
    futures::executor::block_on(object_store::ObjectStoreExt::put(
        &*store,
        &format!("out/part-{uncommitted:05}-00007.parquet")
            .as_str()
            .into(),
        "not parquet".into(),
    ))
    .unwrap();
    // The store turns flaky: the checkpoint's own requests are retried as reads are.
    store.set_failure_rate(0.05);
    let summary = job.run_with(options.clone()).unwrap();
    assert_eq!(summary.rows, 100_000);
    assert!(store.injected() > 0, "failures were injected");
    store.set_failure_rate(0.0);
    #[derive(Record, Debug, Clone)]
    struct Twice {
        id: i64,
        twice: i64,
    }
    let mut ids: Vec<i64> = pipeline! { read_parquet::<Twice>(out.clone()) }
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    assert_eq!(ids, (0..100_000).collect::<Vec<_>>(), "every row once");

    // A live process's lock in the store: refused, naming it.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let header = list("checkpoint")
        .into_iter()
        .find(|p| p.ends_with("/header.json"))
        .expect("a header in the store");
    let lock = header.replace("header.json", "lock");
    futures::executor::block_on(object_store::ObjectStoreExt::put(
        &*store,
        &lock.as_str().into(),
        format!("pid 1 on {}", host.trim()).into(),
    ))
    .unwrap();
    let err = job.run_with(options.clone()).unwrap_err().to_string();
    assert!(err.contains("in use by pid 1 on"), "{err}");
    futures::executor::block_on(object_store::ObjectStoreExt::delete(
        &*store,
        &lock.as_str().into(),
    ))
    .unwrap();

    // Delete on success removes it from the store.
    options.delete_checkpoint_on_success = true;
    assert_eq!(job.run_with(options).unwrap().rows, 100_000);
    assert_eq!(list("checkpoint"), Vec::<String>::new());
}

#[test]
fn an_all_to_all_output_saved_in_an_object_store_is_read_on_resume() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static CRASH: AtomicBool = AtomicBool::new(true);
    let url = "faulty-remote-exchange://data";
    let store = store_of(url, 10);
    let mut options = patient();
    options.checkpoint = Some(format!("{url}/checkpoint"));
    let out = format!("{url}/out");
    let job = pipeline! {
        read_parquet::<Row>(format!("{url}/in/*/*.parquet"))
        |> sort(id)
        |> map_batches(|batch: RecordBatch| {
            assert!(!CRASH.load(Ordering::SeqCst), "the machine died after the sort");
            batch
        })
        |> write_parquet(out.clone())
    };
    let err = job.run_with(options.clone()).unwrap_err().to_string();
    assert!(err.contains("the machine died after the sort"), "{err}");
    store.break_objects(Some("in/"));
    CRASH.store(false, Ordering::SeqCst);
    assert_eq!(job.run_with(options).unwrap().rows, 50_000);
    store.break_objects(None);
    let ids: Vec<i64> = pipeline! { read_parquet::<Row>(out) }
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, (0..50_000).collect::<Vec<_>>());
}
