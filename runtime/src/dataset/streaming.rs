//! Training ingest: batch options for `iter_batches_with`, and `streaming_split`, which shares
//! one run's blocks among several consumers.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, bounded};

use crate::error::{Error, Result};
use crate::executor::BlockStream;
use crate::sync::Recover;

/// How `iter_batches_with` cuts the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOptions {
    pub batch_size: usize,
    /// Leave out a last batch smaller than `batch_size`.
    pub drop_last: bool,
    /// (buffer rows, seed): sample each batch at random from at least this many buffered rows.
    pub shuffle: Option<(usize, u64)>,
}

impl BatchOptions {
    /// Batches of `batch_size` rows, in stream order, the last possibly smaller.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            drop_last: false,
            shuffle: None,
        }
    }

    /// Leave out a last batch smaller than the batch size.
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// Sample batches from a local shuffle buffer of at least `rows` rows, seeded.
    pub fn local_shuffle(mut self, rows: usize, seed: u64) -> Self {
        self.shuffle = Some((rows, seed));
        self
    }
}

/// One consumer's share of a [`streaming_split`](crate::Dataset::streaming_split).
pub struct SplitStream {
    blocks: Receiver<RecordBatch>,
    failure: Arc<Mutex<Option<String>>>,
    /// The thread running the pipeline (joined by the last consumer dropped).
    _runner: Arc<Runner>,
    reported: bool,
}

struct Runner(Mutex<Option<JoinHandle<()>>>);

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(handle) = self.0.lock().recover().take() {
            let _ = handle.join();
        }
    }
}

impl Iterator for SplitStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.blocks.recv() {
            Ok(block) => Some(Ok(block)),
            Err(_) => {
                let failure = self.failure.lock().recover().clone();
                match failure {
                    Some(reason) if !self.reported => {
                        self.reported = true;
                        Some(Err(Error::Exchange {
                            stage: "streaming_split".into(),
                            reason: reason.into(),
                        }))
                    }
                    _ => None,
                }
            }
        }
    }
}

pub(super) fn split(stream: BlockStream, n: usize) -> Result<Vec<SplitStream>> {
    // A bounded queue: slow consumers hold the pipeline back.
    let (sender, blocks) = bounded::<RecordBatch>(2 * n);
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let runner = {
        let failure = failure.clone();
        std::thread::Builder::new()
            .name("aqueduct-streaming-split".into())
            .spawn(move || {
                for block in stream {
                    match block {
                        Ok(block) => {
                            if sender.send(block).is_err() {
                                return;
                            }
                        }
                        Err(error) => {
                            *failure.lock().recover() = Some(error.to_string());
                            return;
                        }
                    }
                }
            })
            .map_err(|e| Error::Exchange {
                stage: "streaming_split".into(),
                reason: e.into(),
            })?
    };
    let runner = Arc::new(Runner(Mutex::new(Some(runner))));
    Ok((0..n)
        .map(|_| SplitStream {
            blocks: blocks.clone(),
            failure: failure.clone(),
            _runner: runner.clone(),
            reported: false,
        })
        .collect())
}
