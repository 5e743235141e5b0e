//! Job checkpoints for pipelines that end in a sink: a killed run, started again with the same
//! checkpoint, skips the input splits whose output was committed and redoes the others —
//! no row lost, none written twice.
//!
//! The unit of progress is the input split. A split's files are written under hidden names
//! and renamed when complete (the sink's protocol); only then is the split recorded in the
//! manifest, one line per split, appended and flushed to disk (`fsync`). So after a crash the
//! manifest names exactly the splits whose files are all in place. On restart, files of splits
//! the manifest does not name, and hidden files being written, are removed before the run.
//!
//! The manifest's first line fingerprints the pipeline (its plans and sink) and its input
//! listing: resuming with either changed is refused. Every line carries a checksum; a torn
//! last line (the crash came mid-append) is dropped. A lock file names the process using the
//! checkpoint; a second process refuses while the holder lives.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::hash::BuildHasher;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const MANIFEST: &str = "manifest.jsonl";
const LOCK: &str = "lock";
const SEED: u64 = 0x00c4_ec4b_0147_5eed;

/// One committed split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Committed {
    pub split: usize,
    pub name: String,
    pub files: Vec<String>,
    pub rows: usize,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    fingerprint: String,
}

/// An open checkpoint (its lock held until dropped).
pub(crate) struct Checkpoint {
    dir: PathBuf,
    manifest: File,
    done: BTreeMap<usize, Committed>,
    _lock: Lock,
}

fn failed(dir: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        location: dir.display().to_string(),
        reason: reason.into(),
    }
}

fn checksum(text: &str) -> String {
    format!(
        "{:016x}",
        foldhash::fast::FixedState::with_seed(SEED).hash_one(text)
    )
}

/// A hash of `parts`, as hex.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    checksum(&parts.join("\u{1f}"))
}

impl Checkpoint {
    /// Open (or create) the checkpoint in `dir` for a run with `fingerprint`.
    pub fn open(dir: &Path, fingerprint: &str) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| failed(dir, format!("cannot create it: {e}")))?;
        let lock = Lock::take(dir)?;
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(failed(dir, format!("cannot read {MANIFEST}: {e}"))),
        };
        // Keep the longest prefix of whole, checksummed lines.
        let mut valid = 0;
        let mut lines = Vec::new();
        for line in text.split_inclusive('\n') {
            let Some(body) = line.strip_suffix('\n') else {
                break;
            };
            let Some((json, sum)) = body.rsplit_once('\t') else {
                break;
            };
            if checksum(json) != sum {
                break;
            }
            lines.push(json.to_owned());
            valid += line.len();
        }
        if valid < text.len() {
            tracing::warn!(manifest = %path.display(), "dropping a torn last line");
        }
        let mut done = BTreeMap::new();
        let mut fresh = lines.is_empty();
        if let Some(first) = lines.first() {
            let header: Header = serde_json::from_str(first)
                .map_err(|e| failed(dir, format!("{MANIFEST} has no header: {e}")))?;
            if header.fingerprint != fingerprint {
                return Err(failed(
                    dir,
                    format!(
                        "it belongs to another run: the pipeline or its input listing changed \
                         (fingerprint {} here, {fingerprint} now); remove the directory to start over",
                        header.fingerprint
                    ),
                ));
            }
            for line in &lines[1..] {
                let committed: Committed = serde_json::from_str(line)
                    .map_err(|e| failed(dir, format!("a bad line in {MANIFEST}: {e}")))?;
                done.insert(committed.split, committed);
            }
        } else {
            fresh = true;
        }
        let manifest = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| failed(dir, format!("cannot write {MANIFEST}: {e}")))?;
        manifest
            .set_len(valid as u64)
            .map_err(|e| failed(dir, e.to_string()))?;
        let mut checkpoint = Checkpoint {
            dir: dir.to_owned(),
            manifest,
            done,
            _lock: lock,
        };
        if fresh {
            let header = serde_json::to_string(&Header {
                version: 1,
                fingerprint: fingerprint.to_owned(),
            })
            .expect("a header serializes");
            checkpoint.append(&header)?;
            // The manifest's directory entry must survive a crash too.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(checkpoint)
    }

    fn append(&mut self, json: &str) -> Result<()> {
        use std::io::Seek;
        let line = format!("{json}\t{}\n", checksum(json));
        self.manifest
            .seek(std::io::SeekFrom::End(0))
            .and_then(|_| self.manifest.write_all(line.as_bytes()))
            .and_then(|_| self.manifest.sync_data())
            .map_err(|e| failed(&self.dir, format!("cannot append to {MANIFEST}: {e}")))
    }

    /// Whether split `split` was committed.
    pub fn is_done(&self, split: usize) -> bool {
        self.done.contains_key(&split)
    }

    /// The committed splits, in order.
    pub fn committed(&self) -> impl Iterator<Item = &Committed> {
        self.done.values()
    }

    /// Record a split whose files are in place.
    pub fn record(&mut self, committed: Committed) -> Result<()> {
        self.append(&serde_json::to_string(&committed).expect("a record serializes"))?;
        self.done.insert(committed.split, committed);
        Ok(())
    }

    /// Remove the checkpoint (after a successful run, when asked).
    pub fn remove(self) -> Result<()> {
        let dir = self.dir.clone();
        drop(self);
        std::fs::remove_dir_all(&dir).map_err(|e| failed(&dir, format!("cannot remove it: {e}")))
    }
}

/// The lock file, removed when dropped.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK);
        let me = format!("pid {} on {}", std::process::id(), hostname());
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(me.as_bytes())
                        .and_then(|_| file.sync_all())
                        .map_err(|e| failed(dir, format!("cannot write its lock: {e}")))?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    if holder_alive(&holder) {
                        return Err(failed(
                            dir,
                            format!("in use by {holder} (lock file {})", path.display()),
                        ));
                    }
                    // The holder died (killed, crashed): its lock is stale.
                    tracing::warn!(lock = %path.display(), %holder, "taking over a stale lock");
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(failed(dir, format!("cannot create its lock: {e}"))),
            }
        }
        Err(failed(dir, "another process keeps taking its lock"))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "this host".into())
}

/// Whether the process a lock names (`pid N on HOST`) still runs (on this host).
fn holder_alive(holder: &str) -> bool {
    let mut words = holder.split_whitespace();
    let (Some("pid"), Some(pid), Some("on"), Some(host)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if host != hostname() {
        // Another machine's process: assume it lives.
        return true;
    }
    if pid == std::process::id() as i32 {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
