//! Writes that fail part-way: the job fails with a clear error naming the file, and no
//! half-written file is ever visible.

use std::sync::Arc;

use aqueduct::faulty::FaultyStore;
use aqueduct::prelude::*;
use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::{ObjectMeta, ObjectStore};

#[derive(Record, Debug, Clone, PartialEq)]
struct Row {
    id: i64,
}

#[test]
fn a_failed_put_fails_the_job_and_leaves_no_partial_file() {
    // Every request for the third file fails, as a full disk would.
    let memory = Arc::new(InMemory::new());
    let store = Arc::new(FaultyStore::new(memory.clone()));
    store.break_objects(Some("part-00002"));
    aqueduct::storage::register_store("failing://disk", store.clone());
    // 200,000 rows from memory make 4 splits, so 4 files; the third cannot be written.
    let rows: Vec<Row> = (0..200_000).map(|id| Row { id }).collect();
    let error = pipeline! { from_items::<Row>(rows) }
        .write_parquet("failing://disk/out")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("failing://disk/out/part-00002-00000.parquet"),
        "{error}"
    );
    assert!(error.contains("injected permanent failure"), "{error}");
    let written: Vec<ObjectMeta> =
        futures::executor::block_on(memory.list(None).try_collect()).unwrap();
    assert!(
        written
            .iter()
            .all(|m| !m.location.as_ref().contains("part-00002")),
        "{written:?}"
    );
}

#[test]
fn a_sink_directory_that_cannot_be_created_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let location = file.join("out");
    let error = pipeline! { from_items::<Row>(vec![Row { id: 1 }]) }
        .write_csv(location.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(error.contains(location.to_str().unwrap()), "{error}");
}

#[test]
fn a_job_failing_mid_write_leaves_only_complete_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let rows: Vec<Row> = (0..400_000).map(|id| Row { id }).collect();
    let error = pipeline! {
        from_items::<Row>(rows)
        |> map(|r| -> Row { assert!(r.id != 300_000, "bad row"); r })
        |> write_parquet(out.to_str().unwrap().to_owned(), rows_per_file = 20_000)
    }
    .run()
    .unwrap_err()
    .to_string();
    assert!(error.contains("bad row"), "{error}");
    let names: Vec<String> = std::fs::read_dir(&out)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    assert!(names.iter().all(|n| !n.contains("inprogress")), "{names:?}");
    // Every file that is visible is a whole parquet file (a torn one would not read back).
    if !names.is_empty() {
        let written = pipeline! { read_parquet::<Row>(out.to_str().unwrap().to_owned()) };
        assert!(written.count().unwrap() <= 400_000);
    }
}
