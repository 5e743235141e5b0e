//! Entry points for the fuzz targets (the `fuzzing` feature): parsers that are not public API.

/// Run a future on the runtime's IO threads (the targets put their input in a store).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    crate::io_runtime::block_on(future)
}

/// A checkpoint's commit record as the checkpoint reads it: its JSON written again, or `None`
/// where it is damaged (its split is then redone).
pub fn checkpoint_record(bytes: &[u8]) -> Option<String> {
    crate::checkpoint::parse_record(bytes)
        .map(|record| serde_json::to_string(&record).expect("a record serializes"))
}

/// `json` sealed with its checksum, as the checkpoint writes records.
pub fn seal(json: &str) -> Vec<u8> {
    crate::checkpoint::seal(json)
}
