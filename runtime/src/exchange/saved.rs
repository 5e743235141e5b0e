//! Checkpointed exchanges: with a job checkpoint, an all-to-all operator's output is saved
//! (Arrow IPC, one object per output split, then a marker) before the stages after it run. A
//! run resumed after a crash past that point reads the saved output instead of running the
//! pipeline before the operator again — the read, the shuffle, the partial aggregates are not
//! redone.

use std::sync::Arc;

use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Dir;
use crate::error::{Cause, Error, Result};
use crate::source::Split;

const MARKER: &str = "done.json";

#[derive(Serialize, Deserialize)]
struct Marker {
    /// Output splits' names and files, in order.
    splits: Vec<(String, String)>,
}

/// The saved output in `dir`, if a run completed it.
pub(super) fn load(dir: &Dir) -> Result<Option<Vec<Box<dyn Split>>>> {
    let Some(marker) = dir.read(MARKER)? else {
        return Ok(None);
    };
    let marker: Marker = serde_json::from_slice(&marker)
        .map_err(|e| dir.failed(Cause::from(e).context(format!("{MARKER} is damaged"))))?;
    tracing::info!(checkpoint = %dir.describe(), "reading a saved all-to-all output");
    Ok(Some(
        marker
            .splits
            .into_iter()
            .map(|(name, file)| {
                Box::new(SavedSplit {
                    name: name.into(),
                    dir: dir.clone(),
                    file,
                }) as Box<dyn Split>
            })
            .collect(),
    ))
}

/// Save every output split's blocks in `dir`, then the marker; the saved splits replace them.
pub(super) fn save(dir: &Dir, splits: Vec<Box<dyn Split>>) -> Result<Vec<Box<dyn Split>>> {
    dir.create()?;
    let mut saved = Vec::with_capacity(splits.len());
    for (i, split) in splits.into_iter().enumerate() {
        let file = format!("split-{i:05}.arrow");
        let mut writer = None;
        let mut error = None;
        split.read(&mut |block| {
            if writer.is_none() {
                match dir.writer(&file).and_then(|out| {
                    FileWriter::try_new(out, &block.schema()).map_err(|e| dir.failed(e))
                }) {
                    Ok(w) => writer = Some(w),
                    Err(e) => {
                        error = Some(e);
                        return Ok(false);
                    }
                }
            }
            if let Err(e) = writer.as_mut().expect("just made").write(&block) {
                error = Some(dir.failed(Cause::from(e).context(format!("cannot write {file}"))));
                return Ok(false);
            }
            Ok(true)
        })?;
        if let Some(error) = error {
            return Err(error);
        }
        match writer {
            Some(mut writer) => {
                let failed = |e: Cause| dir.failed(e.context(format!("cannot write {file}")));
                writer.finish().map_err(|e| failed(e.into()))?;
                let out = writer.into_inner().map_err(|e| failed(e.into()))?;
                out.commit().map_err(|e| failed(e.into()))?;
            }
            // An empty split: no file.
            None => dir.delete(&file)?,
        }
        saved.push((split.name().to_string(), file));
    }
    let marker = serde_json::to_string(&Marker { splits: saved }).expect("a marker serializes");
    dir.put(MARKER, marker.as_bytes())?;
    Ok(load(dir)?.expect("just saved"))
}

/// A saved output split.
struct SavedSplit {
    name: Arc<str>,
    dir: Dir,
    file: String,
}

impl Split for SavedSplit {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        // An empty split saved no file.
        let Some(input) = self.dir.reader(&self.file)? else {
            return Ok(());
        };
        let corrupt = |e: arrow::error::ArrowError| Error::Corrupt {
            url: format!("{}/{}", self.dir.describe(), self.file),
            reason: e.into(),
        };
        for block in FileReader::try_new(input, None).map_err(corrupt)? {
            if !emit(block.map_err(corrupt)?)? {
                break;
            }
        }
        Ok(())
    }
}
