//! Listing what a location names: one file, the files under a directory, or those a glob
//! matches. Below a directory, partition directories (`column=value/`) a filter rules out
//! are not listed at all.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use super::{Location, hive, resolve, split_glob};
use crate::error::{Error, Result};
use crate::io_runtime::block_on;

/// Whether to list below a directory, by its name as stored (`tag=a%2Fb`).
pub(crate) type KeepDirectory<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// Listings of one level of directories in flight at once.
const CONCURRENT_LISTINGS: usize = 16;

/// The files `location` names, sorted by path: the file itself, the files under a directory
/// (skipping hidden `.` and `_` files), or the files matching a glob (`*`, `?`, `[..]`).
pub fn list_files(location: &str) -> Result<Vec<Location>> {
    list_files_where(location, None)
}

/// [`list_files`], without listing below the directories `keep` refuses. A listing that
/// finds nothing because of them is empty, not an error.
pub(crate) fn list_files_where(
    location: &str,
    keep: Option<KeepDirectory>,
) -> Result<Vec<Location>> {
    let (base, pattern) = split_glob(location);
    let root = resolve(base)?;
    let storage = |source| Error::Storage {
        url: root.url.to_string(),
        source,
    };
    let pruned = AtomicBool::new(false);
    let mut files: Vec<Location> = match pattern {
        None => match block_on(root.store.head(&root.path)) {
            Ok(meta) => {
                return Ok(vec![Location {
                    size: Some(meta.size),
                    ..root
                }]);
            }
            Err(object_store::Error::NotFound { .. }) => list_under(&root, keep, &pruned)?
                .into_iter()
                .filter(|f| !is_hidden(&root.path, &f.path))
                .collect(),
            Err(e) => return Err(storage(e)),
        },
        Some(pattern) => {
            let glob = glob::Pattern::new(pattern).map_err(|e| Error::InvalidLocation {
                url: location.to_owned(),
                reason: e.into(),
            })?;
            let prefix_len = root.path.as_ref().len();
            list_under(&root, keep, &pruned)?
                .into_iter()
                .filter(|f| {
                    let relative = f.path.as_ref()[prefix_len..].trim_start_matches('/');
                    glob.matches(relative)
                })
                .collect()
        }
    };
    if files.is_empty() && !pruned.load(Ordering::Relaxed) {
        let missing = pattern.is_none() && !root.url.ends_with('/');
        return Err(Error::NoInput {
            url: location.to_owned(),
            reason: if missing {
                "no such file or directory, or an empty directory".into()
            } else {
                "no file matched".into()
            },
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Every file below `root`; `pruned` is set when `keep` refused a directory.
fn list_under(
    root: &Location,
    keep: Option<KeepDirectory>,
    pruned: &AtomicBool,
) -> Result<Vec<Location>> {
    if let Some(dir) = root.local.as_ref().filter(|d| d.is_dir()) {
        return list_local_under(root, dir, "", keep, pruned);
    }
    let prefix = (!root.path.as_ref().is_empty()).then_some(&root.path);
    let listing = async {
        match keep {
            Some(keep) => list_pruned(root.store.as_ref(), prefix, keep, pruned).await,
            None => root.store.list(prefix).try_collect().await,
        }
    };
    let listed: Vec<ObjectMeta> = block_on(listing)
        .or_else(|e| match e {
            object_store::Error::NotFound { .. } => Ok(Vec::new()),
            other => Err(other),
        })
        .map_err(|source| Error::Storage {
            url: root.url.to_string(),
            source,
        })?;
    Ok(listed
        .iter()
        .map(|meta| Location {
            size: Some(meta.size),
            ..root.join(&meta.location)
        })
        .collect())
}

/// The objects below `root`, listed a level at a time through partition directories (those
/// `keep` refuses are passed over), and whole below any other directory: one request per
/// partition directory instead of a page per thousand objects, which pays when a filter
/// rules most of them out.
async fn list_pruned(
    store: &dyn ObjectStore,
    root: Option<&Path>,
    keep: KeepDirectory<'_>,
    pruned: &AtomicBool,
) -> object_store::Result<Vec<ObjectMeta>> {
    let kept = |name: &str| {
        let kept = keep(name);
        if !kept {
            pruned.store(true, Ordering::Relaxed);
        }
        kept
    };
    let mut files = Vec::new();
    let mut whole: Vec<Option<Path>> = Vec::new();
    let mut level: Vec<Option<Path>> = vec![root.cloned()];
    while !level.is_empty() {
        let listed: Vec<_> = futures::stream::iter(level.drain(..))
            .map(|dir| async move {
                let listed = store.list_with_delimiter(dir.as_ref()).await?;
                Ok::<_, object_store::Error>((dir, listed))
            })
            .buffer_unordered(CONCURRENT_LISTINGS)
            .try_collect()
            .await?;
        for (dir, listed) in listed {
            let subdirectories: Vec<Path> = listed
                .common_prefixes
                .into_iter()
                .filter(|d| d.filename().is_none_or(kept))
                .collect();
            if !subdirectories.iter().all(plain) {
                // Some servers refuse the signature of a listing whose prefix holds a space or
                // other characters a query string escapes two ways (moto, as `+`): list the
                // directory whole from here, and drop what lies below refused directories.
                whole.push(dir);
                continue;
            }
            files.extend(listed.objects);
            for subdirectory in subdirectories {
                if subdirectory.filename().and_then(hive::partition).is_some() {
                    level.push(Some(subdirectory));
                } else {
                    whole.push(Some(subdirectory));
                }
            }
        }
    }
    let below: Vec<Vec<ObjectMeta>> = futures::stream::iter(whole)
        .map(|dir| async move { store.list(dir.as_ref()).try_collect::<Vec<_>>().await })
        .buffer_unordered(CONCURRENT_LISTINGS)
        .try_collect()
        .await?;
    let root = root.cloned().unwrap_or_default();
    files.extend(below.into_iter().flatten().filter(|file| {
        let Some(parts) = file.location.prefix_match(&root) else {
            return true;
        };
        let parts: Vec<_> = parts.collect();
        parts[..parts.len().saturating_sub(1)]
            .iter()
            .all(|part| kept(part.as_ref()))
    }));
    Ok(files)
}

/// Whether every listing request signs `dir` the same way: ASCII letters, digits and the
/// characters escaped partition values are made of.
fn plain(dir: &Path) -> bool {
    dir.as_ref()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.~=%/".contains(c))
}

/// The files under a local directory, found with `read_dir` alone: object_store's listing
/// reads every file's metadata, which made listing 50,000 small images cost more than reading
/// them. Subdirectories are listed in parallel; those `keep` refuses are not. Sizes are left
/// out (`None`); the readers that need one ask for it.
fn list_local_under(
    root: &Location,
    dir: &std::path::Path,
    relative: &str,
    keep: Option<KeepDirectory>,
    pruned: &AtomicBool,
) -> Result<Vec<Location>> {
    use rayon::prelude::*;
    let io = |path: &std::path::Path, source| Error::Io {
        url: path.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    let mut directories = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let kind = entry.file_type().map_err(|e| io(&entry.path(), e))?;
        let is_dir = kind.is_dir() || (kind.is_symlink() && entry.path().is_dir());
        if is_dir && keep.is_some_and(|keep| !keep(&name)) {
            pruned.store(true, Ordering::Relaxed);
            continue;
        }
        let child = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        if is_dir {
            directories.push((entry.path(), child));
            continue;
        }
        let path: Path = root
            .path
            .parts()
            .chain(child.split('/').map(object_store::path::PathPart::from))
            .collect();
        files.push(Location {
            store: root.store.clone(),
            path,
            url: format!("{}/{child}", root.url.trim_end_matches('/')).into(),
            local: Some(entry.path()),
            size: None,
            fetched: None,
        });
    }
    let nested: Vec<Vec<Location>> = directories
        .par_iter()
        .map(|(path, child)| list_local_under(root, path, child, keep, pruned))
        .collect::<Result<_>>()?;
    files.extend(nested.into_iter().flatten());
    Ok(files)
}

/// Whether a file below `root` is hidden (`.name` or `_name`, like `_SUCCESS` markers).
pub(crate) fn is_hidden(root: &Path, path: &Path) -> bool {
    path.prefix_match(root).is_some_and(|mut parts| {
        parts.any(|p| p.as_ref().starts_with('.') || p.as_ref().starts_with('_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_directory_glob_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.csv", "a.csv", "c.txt", "_SUCCESS"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let root = dir.path().to_str().unwrap();
        let names = |files: Vec<Location>| -> Vec<String> {
            files
                .iter()
                .map(|f| f.path.filename().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            names(list_files(root).unwrap()),
            ["a.csv", "b.csv", "c.txt"]
        );
        assert_eq!(
            names(list_files(&format!("{root}/*.csv")).unwrap()),
            ["a.csv", "b.csv"]
        );
        let missing = list_files(&format!("{root}/nope")).unwrap_err().to_string();
        assert!(
            missing.contains("nope") && missing.contains("no such file"),
            "{missing}"
        );
    }

    #[test]
    fn refused_directories_are_not_listed_and_an_all_refused_listing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["tag=a/x=1/f.csv", "tag=b/x=2/f.csv", "tag=b/g.csv", "h.csv"] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let root = dir.path().to_str().unwrap();
        let asked = std::sync::Mutex::new(Vec::new());
        let keep = |name: &str| {
            asked.lock().unwrap().push(name.to_owned());
            name != "tag=b"
        };
        let files = list_files_where(root, Some(&keep)).unwrap();
        let relative: Vec<&str> = files.iter().map(|f| &f.url[root.len() + 1..]).collect();
        assert_eq!(relative, ["h.csv", "tag=a/x=1/f.csv"]);
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        // `tag=b`'s own directory was never read.
        assert_eq!(asked, ["tag=a", "tag=b", "x=1"]);
        std::fs::remove_file(dir.path().join("h.csv")).unwrap();
        let none = list_files_where(root, Some(&|name: &str| !name.starts_with("tag="))).unwrap();
        assert!(none.is_empty());
    }
}
