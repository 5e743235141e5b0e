//! Writes that fail part-way: the job fails with a clear error naming the file, and no
//! half-written file is ever visible.

use std::fmt;
use std::sync::Arc;

use aqueduct::prelude::*;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

#[derive(Record, Debug, Clone, PartialEq)]
struct Row {
    id: i64,
}

/// An in-memory store whose puts of one file fail, as a full disk would.
#[derive(Debug)]
struct FailingStore {
    inner: InMemory,
    failing: &'static str,
}

impl fmt::Display for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingStore")
    }
}

#[async_trait::async_trait]
impl ObjectStore for FailingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if location.as_ref().contains(self.failing) {
            return Err(object_store::Error::Generic {
                store: "failing",
                source: "no space left on device (injected)".into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[test]
fn a_failed_put_fails_the_job_and_leaves_no_partial_file() {
    let store = Arc::new(FailingStore {
        inner: InMemory::new(),
        failing: "part-00002",
    });
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
    assert!(error.contains("no space left on device"), "{error}");
    let written: Vec<ObjectMeta> =
        futures::executor::block_on(store.list(None).try_collect()).unwrap();
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
