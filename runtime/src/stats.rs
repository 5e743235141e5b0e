//! Per-operator statistics of a run: rows, bytes and blocks in and out, wall and CPU time, and
//! where time went waiting — for input (the consumer waiting on the workers) or blocked on
//! output (a worker waiting for room under the memory budget). A stall shows up as one or the
//! other.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;

/// One operator's figures. Durations serialize as seconds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct OperatorStats {
    /// The operator, as `explain()` names it.
    pub name: String,
    /// Rows that came in.
    pub rows_in: u64,
    /// Rows that went out.
    pub rows_out: u64,
    /// Bytes of the blocks that came in (Arrow's memory size).
    pub bytes_in: u64,
    /// Bytes of the blocks that went out.
    pub bytes_out: u64,
    /// Blocks that came in.
    pub blocks_in: u64,
    /// Blocks that went out.
    pub blocks_out: u64,
    /// Wall time spent in the operator's own work, summed over threads. For a stage run by a
    /// pool of workers (`compute = actors(..)`) it includes the time a block waited for a free
    /// worker: a stage whose wall is several times the run's is the bottleneck.
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
    /// CPU time of that work.
    #[serde(serialize_with = "seconds")]
    pub cpu: Duration,
    /// Time spent waiting for input.
    #[serde(serialize_with = "seconds")]
    pub waiting_on_input: Duration,
    /// Time spent blocked handing output on (backpressure).
    #[serde(serialize_with = "seconds")]
    pub blocked_on_output: Duration,
    /// For a source reading a remote object store: what it fetched.
    pub fetched: Option<Fetched>,
}

/// What a source fetched from a remote object store in one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Fetched {
    /// GET and HEAD requests made.
    pub requests: u64,
    /// Bytes the store sent back.
    pub bytes: u64,
    /// The sizes of the objects the source reads, summed: `bytes` against it shows what
    /// reading only some columns and skipping row groups saved.
    pub object_bytes: u64,
    /// Objects and directories the listing of the source's location returned: a filter on a
    /// partition column keeps it from listing the directories it rules out.
    pub listed: u64,
}

/// Counts a source's requests to its store as they are made (see [`Fetched`]).
#[derive(Debug, Default)]
pub struct FetchCounter {
    requests: AtomicU64,
    bytes: AtomicU64,
    object_bytes: AtomicU64,
    listed: AtomicU64,
}

impl FetchCounter {
    /// A request that brought back `bytes`.
    pub fn request(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A listing returned `entries` objects and directories.
    pub fn listed(&self, entries: u64) {
        self.listed.fetch_add(entries, Ordering::Relaxed);
    }

    /// The objects the source reads hold this many bytes.
    pub fn set_object_bytes(&self, bytes: u64) {
        self.object_bytes.store(bytes, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn get(&self) -> Fetched {
        Fetched {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            object_bytes: self.object_bytes.load(Ordering::Relaxed),
            listed: self.listed.load(Ordering::Relaxed),
        }
    }
}

/// What a run did, operator by operator, in pipeline order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunStats {
    /// Each operator's figures, in pipeline order.
    pub operators: Vec<OperatorStats>,
    /// Wall time of the whole run.
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
    /// The most bytes of blocks in flight at once.
    pub peak_bytes_in_flight: usize,
    /// Bytes all-to-all operators spilled to local disk past the memory budget.
    pub spilled_bytes: u64,
    /// Blocks skipped under the errored-block budget, each with its split and error.
    pub errored_blocks: Vec<crate::retry::ErroredBlock>,
}

impl RunStats {
    /// The statistics of a pipeline that ran in phases (split at all-to-all operators), the
    /// earlier phases' operators first. The later phase's wall time already holds the earlier
    /// phases: they ran when it listed its input.
    pub fn chain(earlier: RunStats, later: RunStats) -> RunStats {
        let mut operators = earlier.operators;
        operators.extend(later.operators);
        RunStats {
            operators,
            wall: later.wall.max(earlier.wall),
            peak_bytes_in_flight: earlier.peak_bytes_in_flight.max(later.peak_bytes_in_flight),
            spilled_bytes: earlier.spilled_bytes + later.spilled_bytes,
            errored_blocks: [earlier.errored_blocks, later.errored_blocks].concat(),
        }
    }
}

impl fmt::Display for RunStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
        let mib = |b: u64| format!("{:.1}", b as f64 / (1 << 20) as f64);
        writeln!(
            f,
            "{:<44} {:>10} {:>10} {:>9} {:>7} {:>9} {:>9} {:>10} {:>10}",
            "operator",
            "rows in",
            "rows out",
            "MiB out",
            "blocks",
            "wall ms",
            "cpu ms",
            "wait in ms",
            "blocked ms"
        )?;
        for op in &self.operators {
            let mut name = op.name.clone();
            if name.chars().count() > 44 {
                name = name.chars().take(43).collect::<String>() + "…";
            }
            writeln!(
                f,
                "{:<44} {:>10} {:>10} {:>9} {:>7} {:>9} {:>9} {:>10} {:>10}",
                name,
                op.rows_in,
                op.rows_out,
                mib(op.bytes_out),
                op.blocks_out,
                ms(op.wall),
                ms(op.cpu),
                ms(op.waiting_on_input),
                ms(op.blocked_on_output)
            )?;
        }
        write!(
            f,
            "total {} ms, peak {} MiB of blocks in flight",
            ms(self.wall),
            mib(self.peak_bytes_in_flight as u64)
        )?;
        if self.spilled_bytes > 0 {
            write!(f, ", {} MiB spilled to disk", mib(self.spilled_bytes))?;
        }
        for op in &self.operators {
            if let Some(fetched) = op.fetched {
                write!(
                    f,
                    "\n{}: fetched {} MiB of {} MiB of objects in {} requests, {} entries listed",
                    op.name,
                    mib(fetched.bytes),
                    mib(fetched.object_bytes),
                    fetched.requests,
                    fetched.listed
                )?;
            }
        }
        for skipped in &self.errored_blocks {
            let rows = skipped
                .rows
                .map_or_else(|| "rows not read".to_owned(), |r| format!("{r} rows"));
            write!(
                f,
                "\nskipped {}, block {} ({rows}): {}",
                skipped.split, skipped.block, skipped.error
            )?;
        }
        Ok(())
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Counters shared by the threads of a run.
pub(crate) struct Recorder {
    names: Vec<String>,
    counters: Vec<Counters>,
    started: Instant,
    /// What the source fetched from a remote store.
    fetched: Option<std::sync::Arc<FetchCounter>>,
}

#[derive(Default)]
struct Counters {
    rows_in: AtomicU64,
    rows_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    blocks_in: AtomicU64,
    blocks_out: AtomicU64,
    wall_ns: AtomicU64,
    cpu_ns: AtomicU64,
    waiting_ns: AtomicU64,
    blocked_ns: AtomicU64,
}

/// A measurement in progress on the current thread.
pub(crate) struct Timer {
    wall: Instant,
    cpu: Duration,
}

impl Timer {
    pub fn start() -> Self {
        Timer {
            wall: Instant::now(),
            cpu: thread_cpu_time(),
        }
    }

    /// (wall, cpu) since the start.
    pub fn stop(&self) -> (Duration, Duration) {
        (
            self.wall.elapsed(),
            thread_cpu_time().saturating_sub(self.cpu),
        )
    }
}

impl Recorder {
    /// Counters for operators named `names`.
    pub fn new(names: Vec<String>) -> Self {
        let counters = names.iter().map(|_| Counters::default()).collect();
        Recorder {
            names,
            counters,
            started: Instant::now(),
            fetched: None,
        }
    }

    /// Operator `op` took `input` and produced `output` in `(wall, cpu)`.
    pub fn work(
        &self,
        op: usize,
        input: Option<&RecordBatch>,
        output: &[RecordBatch],
        time: (Duration, Duration),
    ) {
        match input {
            Some(input) => self.work_sized(
                op,
                (input.num_rows(), input.get_array_memory_size()),
                output,
                time,
            ),
            None => self.record(op, None, output, time),
        }
    }

    /// Operator `op` took an input of `(rows, bytes)` and produced `output` in `(wall, cpu)`.
    pub fn work_sized(
        &self,
        op: usize,
        input: (usize, usize),
        output: &[RecordBatch],
        time: (Duration, Duration),
    ) {
        self.record(op, Some(input), output, time)
    }

    fn record(
        &self,
        op: usize,
        input: Option<(usize, usize)>,
        output: &[RecordBatch],
        time: (Duration, Duration),
    ) {
        let c = &self.counters[op];
        if let Some((rows, bytes)) = input {
            c.rows_in.fetch_add(rows as u64, Ordering::Relaxed);
            c.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
            c.blocks_in.fetch_add(1, Ordering::Relaxed);
        }
        for out in output {
            c.rows_out
                .fetch_add(out.num_rows() as u64, Ordering::Relaxed);
            c.bytes_out
                .fetch_add(out.get_array_memory_size() as u64, Ordering::Relaxed);
            c.blocks_out.fetch_add(1, Ordering::Relaxed);
        }
        c.wall_ns
            .fetch_add(time.0.as_nanos() as u64, Ordering::Relaxed);
        c.cpu_ns
            .fetch_add(time.1.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Operator `op` spent `time` on its own work (no blocks counted).
    pub fn busy(&self, op: usize, time: (Duration, Duration)) {
        self.work(op, None, &[], time);
    }

    /// Operator `op` waited `time` for input.
    pub fn waited(&self, op: usize, time: Duration) {
        self.counters[op]
            .waiting_ns
            .fetch_add(time.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Operator `op` was blocked `time` handing output on.
    pub fn blocked(&self, op: usize, time: Duration) {
        self.counters[op]
            .blocked_ns
            .fetch_add(time.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The figures so far.
    pub fn snapshot(&self, peak_bytes_in_flight: usize) -> RunStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let time = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        let mut stats = RunStats {
            operators: self
                .names
                .iter()
                .zip(&self.counters)
                .map(|(name, c)| OperatorStats {
                    name: name.clone(),
                    rows_in: load(&c.rows_in),
                    rows_out: load(&c.rows_out),
                    bytes_in: load(&c.bytes_in),
                    bytes_out: load(&c.bytes_out),
                    blocks_in: load(&c.blocks_in),
                    blocks_out: load(&c.blocks_out),
                    wall: time(&c.wall_ns),
                    cpu: time(&c.cpu_ns),
                    waiting_on_input: time(&c.waiting_ns),
                    blocked_on_output: time(&c.blocked_ns),
                    fetched: None,
                })
                .collect(),
            wall: self.started.elapsed(),
            peak_bytes_in_flight,
            spilled_bytes: 0,
            errored_blocks: Vec::new(),
        };
        if let (Some(counter), Some(source)) = (&self.fetched, stats.operators.first_mut()) {
            source.fetched = Some(counter.get());
        }
        stats
    }

    /// The source (operator 0) counts what it fetches in `counter`.
    pub fn with_fetched(mut self, counter: Option<std::sync::Arc<FetchCounter>>) -> Self {
        self.fetched = counter;
        self
    }
}

/// CPU time of the calling thread.
fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to write into; the clock id is a constant.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0 {
            return Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
        }
    }
    Duration::ZERO
}
