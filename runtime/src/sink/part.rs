//! One split's output: its files, cut where [`WriteOptions`](super::WriteOptions) say, one
//! writer per partition directory.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use object_store::{ObjectStoreExt, PutPayload};

use super::encoder::Encoder;
use super::output::Output;
use super::{FileSink, WrittenPart};
use crate::error::{Error, Result};
use crate::io_runtime::block_on;
use crate::storage::Location;

/// Writes one split's output, starting a new file as [`WriteOptions`](super::WriteOptions) say.
pub struct PartWriter<'a> {
    sink: &'a FileSink,
    split: usize,
    /// One writer per partition directory ("" without partitions).
    files: BTreeMap<String, FileWriter>,
    written: WrittenPart,
}

impl<'a> PartWriter<'a> {
    pub(super) fn new(sink: &'a FileSink, split: usize) -> Self {
        PartWriter {
            sink,
            split,
            files: BTreeMap::new(),
            written: WrittenPart::default(),
        }
    }

    /// Append a block.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (sink, split) = (self.sink, self.split);
        for (directory, rows) in sink.partition(batch)? {
            let writer = self.files.entry(directory.clone()).or_insert_with(|| {
                let mut location = sink.target.clone();
                for segment in directory.split('/').filter(|s| !s.is_empty()) {
                    location = location.child_escaped(segment);
                }
                FileWriter::new(location)
            });
            // A block may straddle files: cut it where the row limit falls.
            let mut rest = rows;
            while rest.num_rows() > 0 {
                let mut room = sink
                    .options
                    .rows_per_file
                    .saturating_sub(writer.rows_in_file)
                    .max(1);
                if let Some(limit) = sink.options.bytes_per_file {
                    // Rows that fit the byte target, estimated from what this file holds so
                    // far, or from the block's in-memory size for a new file.
                    let used = writer.encoder.as_ref().map_or(0, Encoder::size);
                    let per_row = match writer.rows_in_file {
                        0 => rest.get_array_memory_size() / rest.num_rows().max(1),
                        rows => used / rows,
                    };
                    room = room.min((limit.saturating_sub(used) / per_row.max(1)).max(1));
                }
                let now = rest.slice(0, room.min(rest.num_rows()));
                rest = rest.slice(now.num_rows(), rest.num_rows() - now.num_rows());
                if writer.encoder.is_none() {
                    writer.encoder = Some(
                        Encoder::new(
                            sink.format,
                            &sink.file_schema,
                            &sink.file(&writer.directory, split, writer.sequence),
                            &now,
                        )
                        .map_err(|r| sink.failed(&writer.directory, writer.sequence, split, r))?,
                    );
                }
                let encoder = writer.encoder.as_mut().expect("just made");
                encoder
                    .write(&now)
                    .map_err(|r| sink.failed(&writer.directory, writer.sequence, split, r))?;
                writer.rows_in_file += now.num_rows();
                self.written.rows += now.num_rows();
                let full = writer.rows_in_file >= sink.options.rows_per_file
                    || sink
                        .options
                        .bytes_per_file
                        .is_some_and(|limit| encoder.size() >= limit);
                if full {
                    self.written.files.extend(writer.flush(sink, split)?);
                }
            }
        }
        Ok(())
    }

    /// Put the last files and say what was written.
    pub fn finish(mut self) -> Result<WrittenPart> {
        for writer in self.files.values_mut() {
            self.written
                .files
                .extend(writer.flush(self.sink, self.split)?);
        }
        Ok(std::mem::take(&mut self.written))
    }
}

/// The file being written in one directory, and how many came before it.
pub(super) struct FileWriter {
    directory: Location,
    encoder: Option<Encoder>,
    sequence: usize,
    rows_in_file: usize,
}

impl FileWriter {
    pub(super) fn new(directory: Location) -> Self {
        FileWriter {
            directory,
            encoder: None,
            sequence: 0,
            rows_in_file: 0,
        }
    }

    /// An empty file with the schema, for an output with no rows: reading the directory then
    /// gives an empty dataset, not a missing one.
    pub(super) fn write_empty(sink: &FileSink) -> Result<Option<String>> {
        let mut empty = FileWriter::new(sink.target.clone());
        let file = sink.file(&empty.directory, 0, 0);
        let no_rows = RecordBatch::new_empty(sink.file_schema.clone());
        let encoder = Encoder::new(sink.format, &sink.file_schema, &file, &no_rows)
            .map_err(|reason| sink.failed(&empty.directory, empty.sequence, 0, reason))?;
        empty.encoder = Some(encoder);
        empty.flush(sink, 0)
    }

    /// Put the current file whole, if there is one; its URL.
    pub(super) fn flush(&mut self, sink: &FileSink, split: usize) -> Result<Option<String>> {
        let Some(encoder) = self.encoder.take() else {
            return Ok(None);
        };
        let file = sink.file(&self.directory, split, self.sequence);
        let output = encoder
            .finish()
            .map_err(|r| sink.failed(&self.directory, self.sequence, split, r))?;
        match output {
            // A local file was written under a hidden temporary name: renaming it is atomic.
            Output::Local(temp) => temp
                .commit()
                .map_err(|r| sink.failed(&self.directory, self.sequence, split, r))?,
            Output::Memory(bytes) => {
                block_on(put_whole(&file, bytes.into())).map_err(|source| Error::Storage {
                    url: file.url.to_string(),
                    source,
                })?;
            }
        }
        self.sequence += 1;
        self.rows_in_file = 0;
        Ok(Some(file.url.to_string()))
    }
}

/// Files past this size go up in parts of this size (S3 takes parts of 5 MiB and more), sent
/// at once: a large file is not one long request that a dropped connection restarts from the
/// beginning, and the store shows it only once every part is in.
const PART_BYTES: usize = 8 << 20;

/// Put `bytes` as the object `file` names: in one request, or in parts when large. A failed
/// upload is aborted, so no part is left behind.
async fn put_whole(file: &Location, bytes: bytes::Bytes) -> object_store::Result<()> {
    if bytes.len() <= PART_BYTES {
        return file
            .store
            .put(&file.path, PutPayload::from(bytes))
            .await
            .map(|_| ());
    }
    let mut upload = file.store.put_multipart(&file.path).await?;
    let parts: Vec<_> = (0..bytes.len())
        .step_by(PART_BYTES)
        .map(|at| {
            upload.put_part(PutPayload::from(
                bytes.slice(at..(at + PART_BYTES).min(bytes.len())),
            ))
        })
        .collect();
    let sent = futures::future::try_join_all(parts).await;
    match sent {
        Ok(_) => upload.complete().await.map(|_| ()),
        Err(error) => {
            let _ = upload.abort().await;
            Err(error)
        }
    }
}
