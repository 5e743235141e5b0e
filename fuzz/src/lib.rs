//! What the reader targets share: an in-memory object store that holds the input as a file
//! (no disk in the loop), and a reader that takes a source's splits one after the other, as a
//! worker does, without starting an executor (thousands of runs a second, not hundreds).

use std::sync::{Arc, OnceLock};

use aqueduct::prelude::*;
use aqueduct_runtime::source::Source;
use object_store::ObjectStoreExt;
use object_store::memory::InMemory;
use object_store::path::Path;

fn store() -> &'static Arc<InMemory> {
    static STORE: OnceLock<Arc<InMemory>> = OnceLock::new();
    STORE.get_or_init(|| {
        // libfuzzer-sys aborts on every panic, even one caught: aqueduct turns a decoder's
        // panic on a damaged file (arrow-rs asserts on some) into an error naming the file,
        // which is the behaviour these targets check. A panic that escapes still aborts.
        std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
        let store = Arc::new(InMemory::new());
        aqueduct::storage::register_store("memory://fuzz", store.clone());
        store
    })
}

/// Put `bytes` as the only file of a fresh directory; its URL.
pub fn put(name: &str, bytes: &[u8]) -> String {
    static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let store = store();
    // The previous input goes, so the store holds one input at a time.
    if run > 0 {
        let old = Path::from(format!("run-{}/{name}", run - 1));
        let _ = aqueduct_runtime::fuzzing::block_on(store.delete(&old));
    }
    let path = Path::from(format!("run-{run}/{name}"));
    aqueduct_runtime::fuzzing::block_on(store.put(&path, bytes.to_vec().into()))
        .expect("the in-memory store takes a put");
    format!("memory://fuzz/run-{run}/{name}")
}

/// `split_bytes` as given (small ones cut a file in byte ranges).
pub fn options(split_bytes: usize) -> aqueduct::ExecOptions {
    aqueduct::ExecOptions {
        threads: 1,
        split_bytes,
        progress: false,
        ..Default::default()
    }
}

/// Every split of `source`, in order, as rows of `R` (shown as text: NaN equals NaN), or the
/// first error's message.
pub fn read<R: Record + std::fmt::Debug>(
    source: &dyn Source,
    split_bytes: usize,
) -> Result<Vec<String>, String> {
    let mut rows = Vec::new();
    for split in source
        .splits(&options(split_bytes))
        .map_err(|e| e.to_string())?
    {
        let mut batches = Vec::new();
        split
            .read(&mut |batch| {
                batches.push(batch);
                Ok(true)
            })
            .map_err(|e| e.to_string())?;
        for batch in batches {
            rows.extend(R::from_batch(&batch)?.iter().map(|r| format!("{r:?}")));
        }
    }
    Ok(rows)
}

/// A file read whole and cut in byte ranges gives the same rows, or fails both ways.
pub fn same_whole_and_cut(whole: Result<Vec<String>, String>, cut: Result<Vec<String>, String>) {
    match (&whole, &cut) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the cut file gave other rows"),
        (Err(_), Err(_)) => {}
        _ => panic!("read whole: {whole:?}\ncut: {cut:?}"),
    }
}
