//! Fault injection: an object store wrapper that fails a chosen fraction of reads (transient
//! failures, as a flaky network gives) or every request for one object (a permanent one), to
//! test that jobs retry, skip within their errored-block budget, and fail clearly.
//!
//! ```
//! use std::sync::Arc;
//! use aqueduct_runtime::faulty::FaultyStore;
//!
//! let store = Arc::new(FaultyStore::new(Arc::new(object_store::memory::InMemory::new())));
//! store.set_failure_rate(0.1);
//! aqueduct_runtime::storage::register_store("flaky://data", store);
//! ```

use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::sync::Recover;

/// An object store that fails some requests on purpose.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    /// The fraction of reads that fail, as f64 bits.
    rate: AtomicU64,
    /// Objects whose path contains this fail every request.
    broken: Mutex<Option<String>>,
    requests: AtomicU64,
    injected: AtomicU64,
}

impl FaultyStore {
    /// A wrapper of `inner` that fails nothing yet.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            rate: AtomicU64::new(0f64.to_bits()),
            broken: Mutex::new(None),
            requests: AtomicU64::new(0),
            injected: AtomicU64::new(0),
        }
    }

    /// Fail this fraction of reads (0 to 1), with a transient error.
    pub fn set_failure_rate(&self, rate: f64) {
        self.rate
            .store(rate.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    /// Fail every request for objects whose path contains `part` (`None`: none).
    pub fn break_objects(&self, part: Option<&str>) {
        *self.broken.lock().recover() = part.map(str::to_owned);
    }

    /// How many failures were injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn check(&self, location: &Path, read: bool) -> object_store::Result<()> {
        let broken = self.broken.lock().recover().clone();
        if broken.is_some_and(|b| location.as_ref().contains(&b)) {
            self.injected.fetch_add(1, Ordering::Relaxed);
            return Err(object_store::Error::Generic {
                store: "faulty",
                source: format!("`{location}` fails every request (injected permanent failure)")
                    .into(),
            });
        }
        let rate = f64::from_bits(self.rate.load(Ordering::Relaxed));
        if read && rate > 0.0 {
            let n = self.requests.fetch_add(1, Ordering::Relaxed);
            let draw = foldhash::fast::FixedState::with_seed(0xfa17).hash_one(n) % 1_000_000;
            if (draw as f64) < rate * 1_000_000.0 {
                self.injected.fetch_add(1, Ordering::Relaxed);
                return Err(object_store::Error::Generic {
                    store: "faulty",
                    source: "connection reset (injected transient failure)".into(),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.check(location, false)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.check(location, false)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.check(location, true)?;
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
