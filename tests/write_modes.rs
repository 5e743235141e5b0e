//! What a write does with a directory that already holds files: refuse it (the default),
//! overwrite it once the new output is complete, or append to it; the `_SUCCESS` marker
//! written last, and readers that require it.

use std::sync::Arc;

use aqueduct::prelude::*;
use aqueduct::{WriteFormat, WriteOptions};

#[derive(Record, Debug, Clone, PartialEq)]
struct Row {
    id: i64,
    group: String,
}

fn rows(from: i64, n: i64) -> Vec<Row> {
    (from..from + n)
        .map(|id| Row {
            id,
            group: format!("g{}", id % 3),
        })
        .collect()
}

fn ids(location: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = pipeline! { read_parquet::<Row>(location) }
        .take_all()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

fn write(location: &str, rows: Vec<Row>, mode: WriteMode) -> aqueduct::Result<WriteSummary> {
    pipeline! { from_items::<Row>(rows) }.write_with(
        WriteFormat::Parquet,
        location,
        WriteOptions {
            mode,
            ..Default::default()
        },
    )
}

fn marker(location: &str) -> bool {
    std::path::Path::new(location).join("_SUCCESS").exists()
}

#[test]
fn by_default_a_directory_holding_files_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    pipeline! { from_items::<Row>(rows(0, 100)) }
        .write_parquet(&out)
        .unwrap();
    assert!(marker(&out));
    let error = pipeline! { from_items::<Row>(rows(1000, 5)) }
        .write_parquet(&out)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("already holds 1 file(s)")
            && error.contains("part-00000-00000.parquet")
            && error.contains("mode = overwrite"),
        "{error}"
    );
    assert_eq!(ids(&out), (0..100).collect::<Vec<_>>());
    assert!(marker(&out));
    // Files without the marker: a run that did not finish, and the refusal says so.
    std::fs::remove_file(std::path::Path::new(&out).join("_SUCCESS")).unwrap();
    let error = pipeline! { from_items::<Row>(rows(1000, 5)) }
        .write_parquet(&out)
        .unwrap_err()
        .to_string();
    assert!(error.contains("did not finish"), "{error}");
}

#[test]
fn overwrite_replaces_the_files_and_append_adds_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    write(&out, rows(0, 100), WriteMode::ErrorIfExists).unwrap();
    let summary = write(&out, rows(500, 10), WriteMode::Overwrite).unwrap();
    assert_eq!(ids(&out), (500..510).collect::<Vec<_>>());
    assert!(
        summary
            .files
            .iter()
            .all(|f| std::path::Path::new(f).exists())
    );
    assert!(marker(&out));
    let appended = write(&out, rows(900, 3), WriteMode::Append).unwrap();
    write(&out, rows(950, 2), WriteMode::Append).unwrap();
    let expected: Vec<i64> = (500..510).chain(900..903).chain(950..952).collect();
    assert_eq!(ids(&out), expected);
    assert!(
        appended
            .files
            .iter()
            .all(|f| std::path::Path::new(f).exists())
    );
    // Nothing of the staging is left, and the marker is there.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("staging")), "{names:?}");
    assert!(marker(&out));
}

#[test]
fn the_sink_stage_takes_a_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    for round in 0..3 {
        pipeline! {
            from_items::<Row>(rows(round * 10, 4))
            |> write_csv(out.clone(), mode = overwrite)
        }
        .run()
        .unwrap();
    }
    let back = pipeline! { read_csv::<Row>(out.clone()) }
        .take_all()
        .unwrap();
    assert_eq!(back.len(), 4);
    assert!(back.iter().all(|r| r.id >= 20));
    let mode = WriteMode::Append;
    pipeline! {
        from_items::<Row>(rows(100, 4))
        |> write_csv(out.clone(), mode = mode)
    }
    .run()
    .unwrap();
    let back = pipeline! { read_csv::<Row>(out.clone()) }.count().unwrap();
    assert_eq!(back, 8);
}

#[test]
fn a_failed_overwrite_leaves_the_old_output_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    write(&out, rows(0, 50), WriteMode::ErrorIfExists).unwrap();
    let failing = pipeline! {
        from_items::<Row>(rows(0, 10_000))
        |> map(|row| -> Row {
            assert!(row.id != 9_000, "boom at {}", row.id);
            row
        })
    };
    let error = failing
        .write_with(
            WriteFormat::Parquet,
            &out,
            WriteOptions {
                mode: WriteMode::Overwrite,
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("boom at 9000"), "{error}");
    assert_eq!(ids(&out), (0..50).collect::<Vec<_>>());
    assert!(marker(&out));
}

#[test]
fn overwrite_removes_old_partition_directories() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    pipeline! {
        from_items::<Row>(rows(0, 30))
        |> write_parquet(out.clone(), partition_by = group)
    }
    .run()
    .unwrap();
    assert!(dir.path().join("out/group=g2").is_dir());
    pipeline! {
        from_items::<Row>(rows(0, 30))
        |> filter(group == "g0")
        |> write_parquet(out.clone(), partition_by = group, mode = overwrite)
    }
    .run()
    .unwrap();
    let files: Vec<_> = aqueduct::storage::list_files(&out).unwrap();
    assert!(!files.is_empty());
    assert!(
        files.iter().all(|f| f.url.contains("group=g0")),
        "{files:?}"
    );
    assert!(!dir.path().join("out/group=g2").exists());
}

#[test]
fn readers_can_require_the_success_marker() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    write(&out, rows(0, 20), WriteMode::ErrorIfExists).unwrap();
    let required = pipeline! { read_parquet::<Row>(out.clone(), require_success = true) };
    assert_eq!(required.count().unwrap(), 20);
    std::fs::remove_file(dir.path().join("out/_SUCCESS")).unwrap();
    let error = required.count().unwrap_err().to_string();
    assert!(error.contains("no `_SUCCESS` marker"), "{error}");
    // Not required: read as it is.
    assert_eq!(
        pipeline! { read_parquet::<Row>(out.clone()) }
            .count()
            .unwrap(),
        20
    );
}

#[test]
fn a_path_that_is_a_file_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.parquet");
    std::fs::write(&file, b"not a directory").unwrap();
    for mode in [
        WriteMode::ErrorIfExists,
        WriteMode::Overwrite,
        WriteMode::Append,
    ] {
        let error = write(file.to_str().unwrap(), rows(0, 3), mode)
            .unwrap_err()
            .to_string();
        assert!(error.contains("it is a file"), "{error}");
    }
}

#[test]
fn modes_work_in_an_object_store() {
    let store = Arc::new(object_store::memory::InMemory::new());
    aqueduct::storage::register_store("memory://modes", store);
    let out = "memory://modes/out";
    write(out, rows(0, 10), WriteMode::ErrorIfExists).unwrap();
    assert!(write(out, rows(0, 10), WriteMode::ErrorIfExists).is_err());
    write(out, rows(100, 5), WriteMode::Overwrite).unwrap();
    assert_eq!(ids(out), (100..105).collect::<Vec<_>>());
    write(out, rows(200, 5), WriteMode::Append).unwrap();
    assert_eq!(ids(out).len(), 10);
    let required = pipeline! { read_parquet::<Row>(out, require_success = true) };
    assert_eq!(required.count().unwrap(), 10);
}

#[test]
fn a_checkpointed_overwrite_resumes_and_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").to_str().unwrap().to_owned();
    write(&out, rows(0, 7), WriteMode::ErrorIfExists).unwrap();
    let options = aqueduct::ExecOptions {
        checkpoint: Some(dir.path().join("ckpt").to_str().unwrap().to_owned()),
        ..Default::default()
    };
    let job = pipeline! {
        from_items::<Row>(rows(1000, 20_000))
        |> write_parquet(out.clone(), mode = overwrite)
    };
    job.run_with(options.clone()).unwrap();
    assert_eq!(ids(&out), (1000..21_000).collect::<Vec<_>>());
    // Run again with the same checkpoint: every split is committed, nothing changes.
    job.run_with(options).unwrap();
    assert_eq!(ids(&out), (1000..21_000).collect::<Vec<_>>());
    assert!(marker(&out));
}
