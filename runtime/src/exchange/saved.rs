//! Checkpointed exchanges: with a job checkpoint, an all-to-all operator's output is saved
//! (Arrow IPC, one file per output split, then a marker written atomically) before the stages
//! after it run. A run resumed after a crash past that point reads the saved output instead of
//! running the pipeline before the operator again — the read, the shuffle, the partial
//! aggregates are not redone.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::source::Split;

const MARKER: &str = "done.json";

#[derive(Serialize, Deserialize)]
struct Marker {
    /// Output splits' names and files, in order.
    splits: Vec<(String, String)>,
}

fn failed(dir: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        location: dir.display().to_string(),
        reason: reason.into(),
    }
}

/// The saved output in `dir`, if a run completed it.
pub(super) fn load(dir: &Path) -> Result<Option<Vec<Box<dyn Split>>>> {
    let marker = match std::fs::read_to_string(dir.join(MARKER)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed(dir, format!("cannot read {MARKER}: {e}"))),
    };
    let marker: Marker = serde_json::from_str(&marker)
        .map_err(|e| failed(dir, format!("{MARKER} is damaged: {e}")))?;
    tracing::info!(checkpoint = %dir.display(), "reading a saved all-to-all output");
    Ok(Some(
        marker
            .splits
            .into_iter()
            .map(|(name, file)| {
                Box::new(SavedSplit {
                    name: name.into(),
                    path: dir.join(file),
                }) as Box<dyn Split>
            })
            .collect(),
    ))
}

/// Save every output split's blocks in `dir`, then the marker; the saved splits replace them.
pub(super) fn save(dir: &Path, splits: Vec<Box<dyn Split>>) -> Result<Vec<Box<dyn Split>>> {
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, format!("cannot create it: {e}")))?;
    let mut saved = Vec::with_capacity(splits.len());
    for (i, split) in splits.into_iter().enumerate() {
        let file = format!("split-{i:05}.arrow");
        let path = dir.join(&file);
        let temporary = dir.join(format!(".{file}.inprogress"));
        let mut writer: Option<FileWriter<BufWriter<File>>> = None;
        let mut error = None;
        split.read(&mut |block| {
            if writer.is_none() {
                match File::create(&temporary)
                    .map_err(|e| e.to_string())
                    .and_then(|f| {
                        FileWriter::try_new(BufWriter::new(f), &block.schema())
                            .map_err(|e| e.to_string())
                    }) {
                    Ok(w) => writer = Some(w),
                    Err(e) => {
                        error = Some(e);
                        return Ok(false);
                    }
                }
            }
            if let Err(e) = writer.as_mut().expect("just made").write(&block) {
                error = Some(e.to_string());
                return Ok(false);
            }
            Ok(true)
        })?;
        if let Some(reason) = error {
            return Err(failed(dir, reason));
        }
        match writer {
            Some(mut writer) => {
                writer.finish().map_err(|e| failed(dir, e.to_string()))?;
                let file = writer
                    .into_inner()
                    .map_err(|e| failed(dir, e.to_string()))?;
                file.into_inner()
                    .map_err(|e| failed(dir, e.to_string()))?
                    .sync_all()
                    .map_err(|e| failed(dir, e.to_string()))?;
                std::fs::rename(&temporary, &path).map_err(|e| failed(dir, e.to_string()))?;
            }
            // An empty split: no file.
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
        saved.push((split.name().to_string(), file));
    }
    let marker = serde_json::to_string(&Marker { splits: saved }).expect("a marker serializes");
    let temporary = dir.join(format!(".{MARKER}.inprogress"));
    let mut file = File::create(&temporary).map_err(|e| failed(dir, e.to_string()))?;
    file.write_all(marker.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| failed(dir, e.to_string()))?;
    std::fs::rename(&temporary, dir.join(MARKER)).map_err(|e| failed(dir, e.to_string()))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(load(dir)?.expect("just saved"))
}

/// A saved output split.
struct SavedSplit {
    name: Arc<str>,
    path: PathBuf,
}

impl Split for SavedSplit {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            // An empty split saved no file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(Error::Io {
                    url: self.path.display().to_string(),
                    source,
                });
            }
        };
        let reader =
            FileReader::try_new(BufReader::new(file), None).map_err(|e| Error::Corrupt {
                url: self.path.display().to_string(),
                reason: e.to_string(),
            })?;
        for block in reader {
            let block = block.map_err(|e| Error::Corrupt {
                url: self.path.display().to_string(),
                reason: e.to_string(),
            })?;
            if !emit(block)? {
                break;
            }
        }
        Ok(())
    }
}
