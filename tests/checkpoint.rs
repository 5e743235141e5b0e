//! Job checkpoints: a checkpointed job killed with SIGKILL at random moments and started again
//! until it completes writes every row exactly once; a changed pipeline, a damaged record, a
//! lock held by a live process and an unusable location are handled as documented.

#[path = "shared/example.rs"]
mod example;
#[path = "shared/proptest_settings.rs"]
mod proptest_settings;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aqueduct::ExecOptions;
use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Out {
    id: i64,
    value: i64,
    doubled: i64,
}

fn job(out: &Path, checkpoint: &Path) -> Command {
    let mut command = Command::new(example::example("checkpointed"));
    command
        .arg("--checkpoint")
        .arg(checkpoint)
        .arg("--output")
        .arg(format!("events={}", out.display()))
        .args(["--threads", "2", "--no-progress"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// The output, checked: every row exactly once, no hidden file left.
fn check_output(out: &Path) {
    let names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no temporary file is visible: {names:?}"
    );
    let mut rows = pipeline! { read_parquet::<Out>(out.to_str().unwrap().to_owned()) }
        .take_all()
        .unwrap();
    rows.sort();
    assert_eq!(rows.len(), 400_000, "no row lost, none duplicated");
    for (i, row) in rows.iter().enumerate() {
        let value = (i as i64 * 7919) % 1000;
        assert_eq!(
            row,
            &Out {
                id: i as i64,
                value,
                doubled: value * 2
            }
        );
    }
}

#[test]
fn killed_again_and_again_a_checkpointed_job_writes_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut random = move |below: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % below
    };
    // An uninterrupted run: the reference output, and how long a run takes here (the binary
    // is located first: asking cargo for it must not count).
    example::example("checkpointed");
    let started = std::time::Instant::now();
    let reference = dir.path().join("reference");
    let status = job(&reference, &dir.path().join("reference-checkpoint"))
        .status()
        .unwrap();
    assert!(status.success());
    check_output(&reference);
    let whole = started.elapsed().as_millis() as u64;
    // `AQUEDUCT_SOAK_KILLS=200` makes this the soak run whose result BENCHMARKS.md records.
    let wanted: usize = std::env::var("AQUEDUCT_SOAK_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(20);
    let (mut kills, mut completed, mut job_number) = (0, 0, 0);
    while kills < wanted || completed < 2 {
        job_number += 1;
        let out = dir.path().join(format!("out{job_number}"));
        let checkpoint = dir.path().join(format!("checkpoint{job_number}"));
        let mut restarts = 0;
        loop {
            let mut child = job(&out, &checkpoint).spawn().unwrap();
            if restarts == 10 {
                // Enough kills for this job: let it finish.
                assert!(child.wait().unwrap().success());
                break;
            }
            // A random moment of a run (resumed runs are shorter than the first).
            std::thread::sleep(Duration::from_millis(1 + random(whole / 2 + 1)));
            match child.try_wait().unwrap() {
                Some(status) => {
                    assert!(status.success(), "the job failed: {status}");
                    break;
                }
                None => {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    kills += 1;
                    restarts += 1;
                    if kills % 50 == 0 {
                        eprintln!("{kills} kills, {completed} jobs completed and checked");
                    }
                }
            }
        }
        check_output(&out);
        completed += 1;
    }
    eprintln!(
        "{kills} kills over {completed} jobs, each run ~{whole} ms uninterrupted: every output exact"
    );
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Row {
    id: i64,
}

fn options(checkpoint: &Path) -> ExecOptions {
    ExecOptions {
        checkpoint: Some(checkpoint.to_str().unwrap().to_owned()),
        ..ExecOptions::default()
    }
}

#[test]
fn a_changed_pipeline_a_damaged_record_a_held_lock_and_a_bad_location() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    let checkpoint = dir.path().join("checkpoint");
    let rows: Vec<Row> = (0..50_000).map(|id| Row { id }).collect();
    let write = pipeline! { from_items::<Row>(rows.clone()) |> write_parquet(out.clone()) };
    assert_eq!(write.run_with(options(&checkpoint)).unwrap().rows, 50_000);
    // Run again: everything is committed already, nothing is written twice.
    assert_eq!(write.run_with(options(&checkpoint)).unwrap().rows, 50_000);

    // A different pipeline into the same sink with the same checkpoint is refused.
    let other = pipeline! {
        from_items::<Row>(rows.clone()) |> filter(id > 10) |> write_parquet(out.clone())
    };
    let err = other
        .run_with(options(&checkpoint))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the pipeline or its input listing changed"),
        "{err}"
    );

    // A damaged record is dropped and its split redone (its files replaced, not doubled);
    // a temporary left by a crash mid-write is removed.
    let sub = std::fs::read_dir(&checkpoint)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record = sub.join("commits/split-000000.json");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, &text[..text.len() / 2]).unwrap();
    let temporary = sub.join("commits/.split-000001.json.inprogress");
    std::fs::write(&temporary, "{\"split\":1,\"na").unwrap();
    assert_eq!(write.run_with(options(&checkpoint)).unwrap().rows, 50_000);
    assert_eq!(std::fs::read_to_string(&record).unwrap(), text);
    assert!(!temporary.exists());

    // A live process holds the lock: the run refuses and names it.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    std::fs::write(sub.join("lock"), format!("pid 1 on {}", host.trim())).unwrap();
    let err = write
        .run_with(options(&checkpoint))
        .unwrap_err()
        .to_string();
    assert!(err.contains("in use by pid 1 on"), "{err}");
    std::fs::remove_file(sub.join("lock")).unwrap();

    // Delete on success.
    let mut delete = options(&checkpoint);
    delete.delete_checkpoint_on_success = true;
    write.run_with(delete).unwrap();
    assert!(!sub.exists());

    // A location that cannot be a directory.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = write.run_with(options(&file)).unwrap_err().to_string();
    assert!(err.contains("cannot create it"), "{err}");
    let ids: BTreeSet<i64> = pipeline! { read_parquet::<Row>(out) }
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 50_000);
}

mod resume {
    //! A property: a checkpointed job that fails at any block, run again, writes what an
    //! uninterrupted run writes (every row once). The kills above stop runs at random moments;
    //! here the failure lands on a chosen block, every block in turn over the cases.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aqueduct::ExecOptions;
    use aqueduct::prelude::*;
    use proptest::prelude::*;

    #[derive(Record, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Item {
        id: i64,
        group: i64,
    }

    #[derive(Record, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Done {
        id: i64,
        group: i64,
        score: i64,
    }

    /// Fails every block from the `fail_at`-th on (so retries cannot hide the failure).
    fn failing(
        batch: RecordBatch,
        seen: Arc<AtomicUsize>,
        fail_at: usize,
    ) -> Result<RecordBatch, String> {
        if seen.fetch_add(1, Ordering::SeqCst) >= fail_at {
            return Err(format!("failing from block {fail_at} on"));
        }
        Ok(batch)
    }

    fn input(dir: &std::path::Path, files: usize) -> String {
        let location = dir.join("input");
        std::fs::create_dir_all(&location).unwrap();
        for f in 0..files {
            let items: Vec<Item> = (0..700)
                .map(|i| Item {
                    id: (f * 700 + i) as i64,
                    group: (i % 7) as i64,
                })
                .collect();
            let file = std::fs::File::create(location.join(format!("in-{f:02}.parquet"))).unwrap();
            let props = parquet::file::properties::WriterProperties::builder()
                .set_max_row_group_row_count(Some(200))
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(file, Item::schema(), Some(props)).unwrap();
            writer.write(&Item::to_batch(&items)).unwrap();
            writer.close().unwrap();
        }
        location.to_str().unwrap().to_owned()
    }

    fn run(
        input: &str,
        out: &std::path::Path,
        options: ExecOptions,
        fail_at: usize,
    ) -> aqueduct::Result<aqueduct::WriteSummary> {
        let (input, out) = (input.to_owned(), out.to_str().unwrap().to_owned());
        let seen = Arc::new(AtomicUsize::new(0));
        pipeline! {
            read_parquet::<Item>(input)
            |> map_batches(failing, args = (seen, fail_at))
            |> with_column(score = id * 3 + group)
            |> write_parquet(out, rows_per_file = 500)
        }
        .run_with(options)
    }

    fn rows(out: &std::path::Path) -> Vec<Done> {
        let mut rows = pipeline! { read_parquet::<Done>(out.to_str().unwrap().to_owned()) }
            .take_all()
            .unwrap();
        rows.sort();
        rows
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: crate::proptest_settings::cases(12),
            rng_seed: crate::proptest_settings::seed(),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        #[test]
        fn resuming_after_a_failure_at_any_block_equals_an_uninterrupted_run(
            files in 1usize..6,
            fail_at in 0usize..24,
            threads in 1usize..4,
            block_bytes in prop_oneof![Just(8usize << 10), Just(1usize << 20)],
        ) {
            let dir = tempfile::tempdir().unwrap();
            let input = input(dir.path(), files);
            let options = |checkpoint: Option<&std::path::Path>| ExecOptions {
                threads,
                target_block_bytes: block_bytes,
                checkpoint: checkpoint.map(|c| c.to_str().unwrap().to_owned()),
                progress: false,
                ..ExecOptions::default()
            };
            let whole = dir.path().join("whole");
            run(&input, &whole, options(None), usize::MAX).unwrap();
            let checkpoint = dir.path().join("checkpoint");
            let out = dir.path().join("out");
            let first = run(&input, &out, options(Some(&checkpoint)), fail_at);
            let resumed = run(&input, &out, options(Some(&checkpoint)), usize::MAX).unwrap();
            prop_assert_eq!(resumed.rows, files * 700, "the summary counts every row (first run: {:?})", first.map(|s| s.rows));
            prop_assert_eq!(rows(&out), rows(&whole));
        }
    }
}
