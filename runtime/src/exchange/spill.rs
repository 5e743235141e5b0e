//! Spilling: blocks written to Arrow IPC files in a run's own temporary directory, read back
//! in the order written. The directory goes when the last handle to it is dropped.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;

use crate::error::{Cause, Error, Result};
use crate::sync::Recover;

/// A spill directory made on first use, under `parent`: most runs never spill.
pub struct LazySpill {
    parent: PathBuf,
    dir: Mutex<Option<Arc<SpillDir>>>,
}

impl LazySpill {
    pub fn new(parent: PathBuf) -> Self {
        Self {
            parent,
            dir: Mutex::new(None),
        }
    }

    /// Another lazy directory under the same parent.
    pub fn another(&self) -> Self {
        Self::new(self.parent.clone())
    }

    /// The directory, made now if it is not yet.
    pub fn get(&self) -> Result<Arc<SpillDir>> {
        let mut dir = self.dir.lock().recover();
        if let Some(dir) = dir.as_ref() {
            return Ok(dir.clone());
        }
        let made = SpillDir::new(&self.parent)?;
        *dir = Some(made.clone());
        Ok(made)
    }

    /// The directory, if anything spilled.
    pub fn made(&self) -> Option<Arc<SpillDir>> {
        self.dir.lock().recover().clone()
    }

    /// Let go of the directory: it is removed once the files read from it are dropped.
    pub fn release(&self) {
        self.dir.lock().recover().take();
    }
}

/// A run's spill directory, removed when dropped.
pub struct SpillDir {
    dir: tempfile::TempDir,
    next: AtomicUsize,
    written: std::sync::atomic::AtomicU64,
}

impl SpillDir {
    /// A fresh directory under `parent`.
    pub fn new(parent: &std::path::Path) -> Result<Arc<Self>> {
        let dir = tempfile::Builder::new()
            .prefix("aqueduct-spill-")
            .tempdir_in(parent)
            .map_err(|e| Error::Spill {
                path: parent.display().to_string(),
                reason: e.into(),
            })?;
        tracing::debug!(dir = %dir.path().display(), "spilling");
        Ok(Arc::new(Self {
            dir,
            next: AtomicUsize::new(0),
            written: Default::default(),
        }))
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// The directory's path.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Write `batches` (all of one schema) to a new file.
    pub fn write(self: &Arc<Self>, batches: &[RecordBatch]) -> Result<SpillFile> {
        let schema = batches
            .first()
            .map(|b| b.schema())
            .ok_or_else(|| Error::Spill {
                path: self.path().display().to_string(),
                reason: "nothing to spill".into(),
            })?;
        let mut writer = self.writer(&schema)?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()
    }

    /// A new file to write blocks of `schema` to, one at a time.
    pub fn writer(self: &Arc<Self>, schema: &arrow::datatypes::Schema) -> Result<SpillWriter> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("{n:06}.arrow"));
        let file = File::create(&path).map_err(|e| spill_error(&path, e))?;
        let writer =
            FileWriter::try_new(BufWriter::new(file), schema).map_err(|e| spill_error(&path, e))?;
        Ok(SpillWriter {
            writer,
            path,
            rows: 0,
            blocks: 0,
            dir: self.clone(),
        })
    }
}

fn spill_error(path: &std::path::Path, e: impl Into<crate::error::Cause>) -> Error {
    Error::Spill {
        path: path.display().to_string(),
        reason: e.into(),
    }
}

/// A spill file being written.
pub struct SpillWriter {
    writer: FileWriter<BufWriter<File>>,
    path: PathBuf,
    rows: usize,
    blocks: usize,
    dir: Arc<SpillDir>,
}

impl SpillWriter {
    /// Append a block.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| spill_error(&self.path, e))?;
        self.rows += batch.num_rows();
        self.blocks += 1;
        Ok(())
    }

    /// Blocks written so far.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Close the file.
    pub fn finish(mut self) -> Result<SpillFile> {
        self.writer
            .finish()
            .map_err(|e| spill_error(&self.path, e))?;
        let bytes = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        self.dir.written.fetch_add(bytes, Ordering::Relaxed);
        Ok(SpillFile {
            path: self.path,
            rows: self.rows,
            _dir: self.dir,
        })
    }
}

/// One spilled file; keeps its directory alive.
pub struct SpillFile {
    path: PathBuf,
    rows: usize,
    _dir: Arc<SpillDir>,
}

impl SpillFile {
    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Read the blocks back, in the order written.
    pub fn read(&self) -> Result<Vec<RecordBatch>> {
        self.blocks(0..usize::MAX)?.collect()
    }

    /// Blocks `range` of the file, read one at a time.
    pub fn blocks(
        &self,
        range: std::ops::Range<usize>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<'_>> {
        let failed = move |reason: Cause| Error::Spill {
            path: self.path.display().to_string(),
            reason,
        };
        let file = File::open(&self.path).map_err(|e| failed(e.into()))?;
        let mut reader = FileReader::try_new(std::io::BufReader::new(file), None)
            .map_err(|e| failed(e.into()))?;
        let end = range.end.min(reader.num_batches());
        let start = range.start.min(end);
        reader.set_index(start).map_err(|e| failed(e.into()))?;
        Ok(reader
            .take(end - start)
            .map(move |batch| batch.map_err(|e| failed(e.into()))))
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
