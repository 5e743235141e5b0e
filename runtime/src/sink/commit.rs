//! What a write does with its directory before and after the run: the [`WriteMode`], the
//! staging directory that keeps an overwrite or an append invisible until it is complete, and
//! the `_SUCCESS` marker written last.
//!
//! The protocol, and why each step stands where it stands:
//! - `error_if_exists` (the default) refuses a directory holding visible files, so two runs
//!   never mix; the parts go straight into the directory.
//! - `overwrite` and `append` write their parts under `_aqueduct_staging/` (hidden from
//!   readers). Only when every part is there does the commit start: remove `_SUCCESS` (the
//!   directory is now marked incomplete), move the new files in (an append under names no
//!   earlier run used), then — overwrite only — delete the files of the old output, and last
//!   write `_SUCCESS`. A failed run leaves the old output untouched; a crash during the commit
//!   leaves a directory without `_SUCCESS` that holds the whole new output, and running the
//!   commit again (a checkpointed job resuming) finishes it.

use std::collections::HashSet;

use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};

use super::{FileSink, WriteSummary};
use crate::error::{Error, Result};
use crate::io_runtime::block_on;
use crate::storage::{Location, SUCCESS, exists, is_hidden};

/// Where `overwrite` and `append` put their parts until the commit.
pub(super) const STAGING: &str = "_aqueduct_staging";

/// What a write does with a directory that already holds files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Refuse to write into a directory that holds any visible file (the default).
    #[default]
    ErrorIfExists,
    /// Replace the directory's files with the new output, once the new output is complete.
    Overwrite,
    /// Add the new output's files beside the existing ones, once it is complete.
    Append,
}

impl WriteMode {
    /// Whether the parts are written to the staging directory first.
    pub(super) fn stages(self) -> bool {
        !matches!(self, WriteMode::ErrorIfExists)
    }
}

impl std::str::FromStr for WriteMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "error_if_exists" | "error" => Ok(WriteMode::ErrorIfExists),
            "overwrite" => Ok(WriteMode::Overwrite),
            "append" => Ok(WriteMode::Append),
            other => Err(format!(
                "unknown write mode `{other}`: expected error_if_exists, overwrite or append"
            )),
        }
    }
}

impl FileSink {
    /// Check the directory before a run writes anything. `resuming`: a checkpointed job
    /// picks up its own earlier output, which no mode refuses.
    pub(crate) fn prepare(&self, resuming: bool) -> Result<()> {
        let directory = &self.directory;
        let refuse = |reason: String| Error::Write {
            url: directory.url.to_string(),
            reason: reason.into(),
        };
        if let Some(path) = &directory.local
            && path.is_file()
        {
            return Err(refuse(
                "it is a file; a sink writes a directory of part files: name a directory".into(),
            ));
        }
        if resuming {
            return Ok(());
        }
        match self.options.mode {
            WriteMode::ErrorIfExists => {
                let files = visible_files(directory)?;
                if let Some(first) = files.first() {
                    let unfinished = if exists(&directory.child(SUCCESS))? {
                        ""
                    } else {
                        " (with no `_SUCCESS`: the run that wrote them did not finish)"
                    };
                    return Err(refuse(format!(
                        "the directory already holds {} file(s){unfinished}, e.g. `{}`: write \
                         elsewhere, or with mode = overwrite (replace them) or append (add to them)",
                        files.len(),
                        first.url
                    )));
                }
                // A marker without files would say an unfinished run completed.
                delete(directory, SUCCESS)
            }
            // An earlier run that died left its staged parts: they are not this run's.
            WriteMode::Overwrite | WriteMode::Append => remove_all(&self.target),
        }
    }

    /// Make the run's output the directory's, as the mode says, and mark it complete.
    /// `summary` names the files as they were written; the result names them where they are.
    pub(crate) fn commit(&self, summary: WriteSummary) -> Result<WriteSummary> {
        let directory = &self.directory;
        if !self.options.mode.stages() {
            put_marker(directory)?;
            return Ok(summary);
        }
        delete(directory, SUCCESS)?;
        let tag = match self.options.mode {
            WriteMode::Append => Some(unique_tag()),
            _ => None,
        };
        let target = self.target.url.trim_end_matches('/').to_owned();
        let moved_name = |staged: &str| -> Option<String> {
            let relative = staged.strip_prefix(&target)?.trim_start_matches('/');
            Some(match &tag {
                Some(tag) => tagged(relative, tag),
                None => relative.to_owned(),
            })
        };
        for staged in list_all(&self.target)? {
            let Some(relative) = moved_name(&staged.url) else {
                continue;
            };
            let to = descend(directory, &relative);
            block_on(directory.store.rename(&staged.path, &to.path)).map_err(|source| {
                Error::Storage {
                    url: to.url.to_string(),
                    source,
                }
            })?;
        }
        let files: Vec<String> = summary
            .files
            .iter()
            .map(|f| match moved_name(f) {
                Some(relative) => descend(directory, &relative).url.to_string(),
                None => f.clone(),
            })
            .collect();
        if self.options.mode == WriteMode::Overwrite {
            let keep: HashSet<&str> = files.iter().map(String::as_str).collect();
            for old in visible_files(directory)? {
                if !keep.contains(&*old.url) {
                    delete_file(&old)?;
                }
            }
            if let Some(root) = &directory.local {
                // Local stores leave the old partitions' directories behind, emptied.
                remove_empty_directories(root);
            }
        }
        put_marker(directory)?;
        remove_all(&self.target)?;
        Ok(WriteSummary {
            files,
            rows: summary.rows,
        })
    }
}

/// `relative` below `directory` (it may hold `column=value/` directories).
fn descend(directory: &Location, relative: &str) -> Location {
    relative
        .split('/')
        .filter(|s| !s.is_empty())
        .fold(directory.clone(), |at, segment| at.child(segment))
}

/// `part-00003-00000.parquet` as `part-00003-00000-<tag>.parquet`.
fn tagged(relative: &str, tag: &str) -> String {
    let (directory, name) = match relative.rsplit_once('/') {
        Some((directory, name)) => (format!("{directory}/"), name),
        None => (String::new(), relative),
    };
    match name.split_once('.') {
        Some((stem, extension)) => format!("{directory}{stem}-{tag}.{extension}"),
        None => format!("{directory}{name}-{tag}"),
    }
}

/// A name part no earlier append used: the time in nanoseconds and the process, in hex.
fn unique_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

/// Every file below `directory`, hidden ones too.
fn list_all(directory: &Location) -> Result<Vec<Location>> {
    let listed: Vec<_> = block_on(directory.store.list(Some(&directory.path)).try_collect())
        .map_err(|source| Error::Storage {
            url: directory.url.to_string(),
            source,
        })?;
    Ok(listed.iter().map(|o| directory.join(&o.location)).collect())
}

/// The files below `directory` a reader would read (the sources' rule for hidden files).
fn visible_files(directory: &Location) -> Result<Vec<Location>> {
    Ok(list_all(directory)?
        .into_iter()
        .filter(|file| !is_hidden(&directory.path, &file.path))
        .collect())
}

fn delete(directory: &Location, name: &str) -> Result<()> {
    delete_file(&directory.child(name))
}

fn delete_file(file: &Location) -> Result<()> {
    match block_on(file.store.delete(&file.path)) {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(Error::Storage {
            url: file.url.to_string(),
            source,
        }),
    }
}

fn remove_all(directory: &Location) -> Result<()> {
    for file in list_all(directory)? {
        delete_file(&file)?;
    }
    if let Some(path) = &directory.local {
        // Local stores leave the emptied directories behind.
        let _ = std::fs::remove_dir_all(path);
    }
    Ok(())
}

/// Remove the empty directories below `root` (not `root` itself).
fn remove_empty_directories(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_empty_directories(&path);
            // Fails, as it should, when something is left in it.
            let _ = std::fs::remove_dir(&path);
        }
    }
}

fn put_marker(directory: &Location) -> Result<()> {
    let marker = directory.child(SUCCESS);
    block_on(directory.store.put(&marker.path, PutPayload::new()))
        .map(|_| ())
        .map_err(|source| Error::Storage {
            url: marker.url.to_string(),
            source,
        })
}
