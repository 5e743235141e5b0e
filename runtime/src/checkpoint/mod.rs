//! Job checkpoints for pipelines that end in a sink: a killed run, started again with the same
//! checkpoint, skips the input splits whose output was committed and redoes the others —
//! no row lost, none written twice.
//!
//! The unit of progress is the input split. A split's files are written whole (the sink's
//! protocol); only then is the split recorded, one small object per split under `commits/`,
//! written durably and atomically (`dir.rs`: fsync and rename locally, one put in an object
//! store). So after a crash the records name exactly the splits whose files are all in place.
//! On restart, files of splits without a record, and temporaries being written, are removed
//! before the run.
//!
//! `header.json` fingerprints the pipeline (its plans and sink) and its input listing:
//! resuming with either changed is refused. Every record carries a checksum; a damaged one
//! is dropped (its split is redone). A lock object names the process using the checkpoint,
//! created by "create unless it exists" (a hard link, or a conditional put): a second process
//! refuses while the holder lives.

mod dir;

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

pub(crate) use dir::Dir;

use crate::error::Result;

const HEADER: &str = "header.json";
const COMMITS: &str = "commits";
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
    dir: Dir,
    done: BTreeMap<usize, Committed>,
    lock: Option<Lock>,
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

/// `json` followed by its checksum.
pub(crate) fn seal(json: &str) -> Vec<u8> {
    format!("{json}\t{}\n", checksum(json)).into_bytes()
}

/// The JSON of a sealed record, unless it is damaged.
fn unseal(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
    let (json, sum) = text.rsplit_once('\t')?;
    (checksum(json) == sum).then_some(json)
}

/// A commit record, unless it is damaged.
pub(crate) fn parse_record(bytes: &[u8]) -> Option<Committed> {
    unseal(bytes).and_then(|json| serde_json::from_str::<Committed>(json).ok())
}

fn commit_name(split: usize) -> String {
    format!("split-{split:06}.json")
}

impl Checkpoint {
    /// Whether a run has already started a checkpoint in `dir` (and so may resume it).
    pub fn started(dir: &Dir) -> Result<bool> {
        dir.create()?;
        Ok(dir.read(HEADER)?.is_some())
    }

    /// Open (or create) the checkpoint in `dir` for a run with `fingerprint`.
    pub fn open(dir: Dir, fingerprint: &str) -> Result<Self> {
        dir.create()?;
        let lock = Lock::take(&dir)?;
        match dir.read(HEADER)? {
            None => {
                let header = serde_json::to_string(&Header {
                    version: 2,
                    fingerprint: fingerprint.to_owned(),
                })
                .expect("a header serializes");
                dir.put(HEADER, &seal(&header))?;
            }
            Some(bytes) => {
                let header: Header = unseal(&bytes)
                    .and_then(|json| serde_json::from_str(json).ok())
                    .ok_or_else(|| dir.failed(format!("{HEADER} is damaged")))?;
                if header.fingerprint != fingerprint {
                    return Err(dir.failed(format!(
                        "it belongs to another run: the pipeline or its input listing changed \
                         (fingerprint {} here, {fingerprint} now); remove it to start over",
                        header.fingerprint
                    )));
                }
            }
        }
        let commits = dir.child(COMMITS);
        commits.create()?;
        let mut done = BTreeMap::new();
        for name in commits.list()?.0 {
            let committed = commits.read(&name)?.and_then(|bytes| parse_record(&bytes));
            match committed {
                Some(committed) if commit_name(committed.split) == name => {
                    done.insert(committed.split, committed);
                }
                _ => {
                    tracing::warn!(checkpoint = %dir.describe(), record = %name, "dropping a damaged record: its split will be redone");
                    commits.delete(&name)?;
                }
            }
        }
        Ok(Checkpoint {
            dir,
            done,
            lock: Some(lock),
        })
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
        let json = serde_json::to_string(&committed).expect("a record serializes");
        self.dir
            .child(COMMITS)
            .put(&commit_name(committed.split), &seal(&json))?;
        self.done.insert(committed.split, committed);
        Ok(())
    }

    /// Remove the checkpoint (after a successful run, when asked).
    pub fn remove(mut self) -> Result<()> {
        self.lock.take();
        self.dir.remove_all()
    }
}

/// The lock object, removed when dropped.
struct Lock {
    dir: Dir,
}

impl Lock {
    fn take(dir: &Dir) -> Result<Self> {
        let me = format!("pid {} on {}", std::process::id(), hostname());
        for _ in 0..2 {
            if dir.put_new(LOCK, me.as_bytes())? {
                return Ok(Lock { dir: dir.clone() });
            }
            let holder = dir
                .read(LOCK)?
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            if holder == me {
                // Ours: a retried conditional put that had gone through the first time.
                return Ok(Lock { dir: dir.clone() });
            }
            if holder_alive(&holder) {
                return Err(dir.failed(format!(
                    "in use by {holder} (its lock object `{LOCK}`: remove it if that process is gone)"
                )));
            }
            // The holder died (killed, crashed): its lock is stale.
            tracing::warn!(checkpoint = %dir.describe(), %holder, "taking over a stale lock");
            dir.delete(LOCK)?;
        }
        Err(dir.failed("another process keeps taking its lock"))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.dir.delete(LOCK);
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
