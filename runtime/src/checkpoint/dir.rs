//! Where a checkpoint lives: a local directory, or a prefix in an object store.
//!
//! Both give the same guarantees to the checkpoint: an object appears whole or not at all, and
//! once a call returns it survives a crash. Locally a file is written under a hidden name,
//! synced, and renamed (or hard-linked, for "create unless it exists"); in an object store
//! every object is one put, and "create unless it exists" is a conditional put.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use crate::error::{Error, Result};
use crate::io_runtime::block_on;
use crate::storage::{Location, resolve};

#[derive(Clone)]
pub(crate) enum Dir {
    Local(PathBuf),
    Store(Location),
}

fn hidden(name: &str) -> String {
    format!(".{name}.inprogress")
}

impl Dir {
    /// The checkpoint at `location`: a path, or a URL `storage::resolve` understands.
    pub fn resolve(location: &str) -> Result<Dir> {
        let resolved = resolve(location)?;
        Ok(match resolved.local {
            Some(path) => Dir::Local(path),
            None => Dir::Store(resolved),
        })
    }

    /// The location, for messages.
    pub fn describe(&self) -> String {
        match self {
            Dir::Local(path) => path.display().to_string(),
            Dir::Store(location) => location.url.to_string(),
        }
    }

    pub fn failed(&self, reason: impl Into<crate::error::Cause>) -> Error {
        Error::Checkpoint {
            location: self.describe(),
            reason: reason.into(),
        }
    }

    pub fn child(&self, name: &str) -> Dir {
        match self {
            Dir::Local(path) => Dir::Local(path.join(name)),
            Dir::Store(location) => Dir::Store(location.child(name)),
        }
    }

    /// Make sure the directory exists (object stores have no directories to make).
    pub fn create(&self) -> Result<()> {
        match self {
            Dir::Local(path) => std::fs::create_dir_all(path)
                .map_err(|e| self.failed(format!("cannot create it: {e}"))),
            Dir::Store(_) => Ok(()),
        }
    }

    /// The bytes of `name`, or `None` when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let result = match self {
            Dir::Local(path) => match std::fs::read(path.join(name)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Dir::Store(location) => {
                let store = &location.store;
                let path = location.child(name).path;
                match retried(&path, || {
                    block_on(async { store.get(&path).await?.bytes().await })
                }) {
                    Ok(bytes) => Ok(Some(bytes.to_vec())),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        result.map_err(|e| self.failed(format!("cannot read {name}: {e}")))
    }

    /// Write `name` whole, replacing any earlier version.
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.write(name, bytes, false).map(|_| ())
    }

    /// Write `name` whole unless it exists; `false` when it did.
    pub fn put_new(&self, name: &str, bytes: &[u8]) -> Result<bool> {
        self.write(name, bytes, true)
    }

    fn write(&self, name: &str, bytes: &[u8], only_new: bool) -> Result<bool> {
        let failed = |e: String| self.failed(format!("cannot write {name}: {e}"));
        match self {
            Dir::Local(path) => {
                let temporary = path.join(hidden(name));
                let target = path.join(name);
                File::create(&temporary)
                    .and_then(|mut file| {
                        file.write_all(bytes)?;
                        file.sync_all()
                    })
                    .map_err(|e| failed(e.to_string()))?;
                let placed = if only_new {
                    // A hard link fails when the target exists, and shows the file whole.
                    let linked = std::fs::hard_link(&temporary, &target);
                    let _ = std::fs::remove_file(&temporary);
                    match linked {
                        Ok(()) => true,
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                            return Ok(false);
                        }
                        // A filesystem without hard links: exclusive creation, then the bytes.
                        Err(_) => match std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&target)
                        {
                            Ok(mut file) => {
                                file.write_all(bytes)
                                    .and_then(|()| file.sync_all())
                                    .map_err(|e| failed(e.to_string()))?;
                                true
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                                return Ok(false);
                            }
                            Err(e) => return Err(failed(e.to_string())),
                        },
                    }
                } else {
                    std::fs::rename(&temporary, &target).map_err(|e| failed(e.to_string()))?;
                    true
                };
                // The new directory entry must survive a crash too.
                if let Ok(dir) = File::open(path) {
                    let _ = dir.sync_all();
                }
                Ok(placed)
            }
            Dir::Store(location) => {
                let mode = if only_new {
                    PutMode::Create
                } else {
                    PutMode::Overwrite
                };
                let options = PutOptions {
                    mode,
                    ..PutOptions::default()
                };
                let payload = PutPayload::from(bytes.to_vec());
                let path = location.child(name).path;
                let put = || {
                    block_on(
                        location
                            .store
                            .put_opts(&path, payload.clone(), options.clone()),
                    )
                };
                match retried(&path, put) {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. }) if only_new => Ok(false),
                    Err(e) => Err(failed(e.to_string())),
                }
            }
        }
    }

    /// Remove `name`; nothing when it does not exist.
    pub fn delete(&self, name: &str) -> Result<()> {
        let result = match self {
            Dir::Local(path) => match std::fs::remove_file(path.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            Dir::Store(location) => {
                let path = location.child(name).path;
                match retried(&path, || block_on(location.store.delete(&path))) {
                    Err(e) if !matches!(e, object_store::Error::NotFound { .. }) => {
                        Err(e.to_string())
                    }
                    _ => Ok(()),
                }
            }
        };
        result.map_err(|e| self.failed(format!("cannot remove {name}: {e}")))
    }

    /// The names of the files directly in this directory (sorted), and of its subdirectories.
    /// Hidden temporaries left by a crash mid-write are removed, not listed.
    pub fn list(&self) -> Result<(Vec<String>, Vec<String>)> {
        let (mut files, mut dirs) = (Vec::new(), Vec::new());
        match self {
            Dir::Local(path) => {
                let entries = match std::fs::read_dir(path) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Ok((files, dirs));
                    }
                    Err(e) => return Err(self.failed(format!("cannot list it: {e}"))),
                };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if entry.path().is_dir() {
                        dirs.push(name);
                    } else if name.starts_with('.') && name.ends_with(".inprogress") {
                        let _ = std::fs::remove_file(entry.path());
                    } else {
                        files.push(name);
                    }
                }
            }
            Dir::Store(location) => {
                let list = || block_on(location.store.list_with_delimiter(Some(&location.path)));
                let listed = retried(&location.path, list)
                    .map_err(|e| self.failed(format!("cannot list it: {e}")))?;
                let name = |path: &object_store::path::Path| {
                    path.filename().unwrap_or_default().to_owned()
                };
                files = listed.objects.iter().map(|o| name(&o.location)).collect();
                dirs = listed.common_prefixes.iter().map(name).collect();
            }
        }
        files.sort();
        dirs.sort();
        Ok((files, dirs))
    }

    /// Remove the directory and everything in it.
    pub fn remove_all(&self) -> Result<()> {
        let result = match self {
            Dir::Local(path) => match std::fs::remove_dir_all(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            Dir::Store(location) => {
                let store = &location.store;
                let remove = || {
                    block_on(async {
                        let paths = store.list(Some(&location.path)).map_ok(|o| o.location);
                        store
                            .delete_stream(Box::pin(paths))
                            .try_collect::<Vec<_>>()
                            .await
                    })
                };
                retried(&location.path, remove)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        };
        result.map_err(|e| self.failed(format!("cannot remove it: {e}")))
    }

    /// A writer of `name`, for data too large to hold in memory; the object appears only
    /// once the writer is committed.
    pub fn writer(&self, name: &str) -> Result<ObjectWriter> {
        let failed = |e: String| self.failed(format!("cannot write {name}: {e}"));
        match self {
            Dir::Local(path) => {
                let temporary = path.join(hidden(name));
                let file = File::create(&temporary).map_err(|e| failed(e.to_string()))?;
                Ok(ObjectWriter::Local {
                    file: Some(std::io::BufWriter::new(file)),
                    temporary,
                    target: path.join(name),
                })
            }
            Dir::Store(location) => {
                let path = location.child(name).path;
                let upload = retried(&path, || block_on(location.store.put_multipart(&path)))
                    .map_err(|e| failed(e.to_string()))?;
                Ok(ObjectWriter::Store(Some(WriteMultipart::new(upload))))
            }
        }
    }

    /// A reader of `name`, or `None` when it does not exist.
    pub fn reader(&self, name: &str) -> Result<Option<Box<dyn Input>>> {
        match self {
            Dir::Local(path) => match File::open(path.join(name)) {
                Ok(file) => Ok(Some(Box::new(std::io::BufReader::new(file)))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(self.failed(format!("cannot read {name}: {e}"))),
            },
            Dir::Store(_) => Ok(self
                .read(name)?
                .map(|bytes| Box::new(std::io::Cursor::new(bytes)) as Box<_>)),
        }
    }
}

/// What [`Dir::reader`] gives: IPC file readers seek to the footer.
pub(crate) trait Input: std::io::Read + std::io::Seek + Send {}
impl<T: std::io::Read + std::io::Seek + Send> Input for T {}

/// Run one store request, retrying it when it fails transiently, as reads are retried
/// (`RetryPolicy::default()`): a checkpoint must not be what fails a job on a flaky network.
fn retried<T>(
    path: &object_store::path::Path,
    mut request: impl FnMut() -> object_store::Result<T>,
) -> object_store::Result<T> {
    let url = path.to_string();
    let result = crate::retry::RetryPolicy::default().run("a checkpoint request", || {
        request().map_err(|source| crate::error::Error::Storage {
            url: url.clone(),
            source,
        })
    });
    result.map_err(|error| match error {
        crate::error::Error::Storage { source, .. } => source,
        other => object_store::Error::Generic {
            store: "checkpoint",
            source: other.to_string().into(),
        },
    })
}

/// An object being written (see [`Dir::writer`]); dropped uncommitted, it leaves nothing.
pub(crate) enum ObjectWriter {
    Local {
        file: Option<std::io::BufWriter<File>>,
        temporary: PathBuf,
        target: PathBuf,
    },
    /// A multipart upload: parts go up as they fill, the object appears when it completes.
    Store(Option<WriteMultipart>),
}

impl ObjectWriter {
    /// Make the object visible, whole and durable.
    pub fn commit(mut self) -> std::io::Result<()> {
        match &mut self {
            ObjectWriter::Local {
                file,
                temporary,
                target,
            } => {
                let file = file.take().expect("committed once");
                file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&*temporary, &*target)
            }
            ObjectWriter::Store(upload) => {
                let upload = upload.take().expect("committed once");
                block_on(upload.finish())
                    .map(|_| ())
                    .map_err(std::io::Error::other)
            }
        }
    }
}

impl std::io::Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ObjectWriter::Local { file, .. } => file.as_mut().expect("open").write(buf),
            ObjectWriter::Store(upload) => {
                let upload = upload.as_mut().expect("open");
                // Bound the parts in flight (and so the memory held).
                block_on(upload.wait_for_capacity(4)).map_err(std::io::Error::other)?;
                upload.write(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ObjectWriter::Local { file, .. } => file.as_mut().expect("open").flush(),
            ObjectWriter::Store(_) => Ok(()),
        }
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        match self {
            ObjectWriter::Local {
                file: Some(_),
                temporary,
                ..
            } => {
                let _ = std::fs::remove_file(&*temporary);
            }
            ObjectWriter::Store(upload) => {
                if let Some(upload) = upload.take() {
                    let _ = block_on(upload.abort());
                }
            }
            ObjectWriter::Local { file: None, .. } => {}
        }
    }
}
