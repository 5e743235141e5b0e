//! What uncommitted work leaves in an output directory, removed before a checkpointed job
//! resumes.

use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::FileSink;
use crate::error::{Cause, Error, Result};
use crate::io_runtime::block_on;

impl FileSink {
    /// Remove what uncommitted work left in the output directory: the files of splits not in
    /// `committed` (their run was cut short), and, locally, hidden files being written.
    pub(crate) fn remove_uncommitted(&self, committed: &dyn Fn(usize) -> bool) -> Result<()> {
        let extension = format!(".{}", self.format.extension());
        let uncommitted = |name: &str| {
            let in_progress = name.starts_with('.') && name.ends_with(".inprogress");
            let split = name
                .strip_prefix("part-")
                .filter(|_| name.ends_with(&extension))
                .and_then(|rest| rest.split('-').next())
                .and_then(|n| n.parse::<usize>().ok());
            in_progress || split.is_some_and(|s| !committed(s))
        };
        let failed = |url: String, e: Cause| Error::Write {
            url,
            reason: e.context("cannot remove uncommitted output"),
        };
        let Some(root) = &self.target.local else {
            // Other stores put each file whole: only whole files of uncommitted splits remain.
            let directory = &self.target;
            let listed: Vec<_> =
                block_on(directory.store.list(Some(&directory.path)).try_collect())
                    .map_err(|e| failed(directory.url.to_string(), e.into()))?;
            for object in listed {
                if uncommitted(object.location.filename().unwrap_or_default()) {
                    block_on(directory.store.delete(&object.location))
                        .map_err(|e| failed(object.location.to_string(), e.into()))?;
                }
            }
            return Ok(());
        };
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if uncommitted(&entry.file_name().to_string_lossy()) {
                    std::fs::remove_file(&path)
                        .map_err(|e| failed(path.display().to_string(), e.into()))?;
                }
            }
        }
        Ok(())
    }
}
