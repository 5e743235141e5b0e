//! The small tokio runtime that drives `object_store` IO from the executor's worker threads.

use std::sync::LazyLock;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("aqueduct-io")
        .enable_all()
        .build()
        .expect("cannot start the IO runtime")
});

/// Run `future` to completion on the IO runtime, blocking the calling (non-async) thread.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.block_on(future)
}
