//! Worker pools for `map_batches` stages with a `compute` strategy (Ray's `ActorPoolStrategy`
//! and `TaskPoolStrategy`).
//!
//! A stateful stage is a type implementing [`Stateful`]: each of its workers is constructed
//! once, from the stage's arguments, and then called on every batch it gets. The workers of a
//! run live in a [`Pool`]; a read worker about to run the stage on a batch takes an idle
//! worker from the pool (constructing one when none is idle and the pool may grow, waiting
//! otherwise), calls it on its own thread, and gives it back. So no batch is copied to
//! another thread, backpressure stays the executor's, and a worker is only ever used by one
//! thread at a time.
//!
//! - `actors(n)`: at most n workers, each constructed on first need.
//! - `actors(min, max)`: autoscaling; starts with `min`, grows while batches wait for a
//!   worker, and drops workers idle for longer than [`IDLE_TIMEOUT`] down to `min`.
//! - `tasks(n)`: a stateless function, at most n calls at once.
//!
//! Per-worker resources cap the pool: `num_cpus = c` allows `threads / c` workers,
//! `memory = bytes` allows `memory_budget / bytes`, and `num_gpus = g` allows `devices / g`
//! workers, each placed on its devices ([`Stateful::new_on_gpus`]; a fraction shares a device
//! between workers). With no device (or without the `cuda` feature, which detects them) such
//! a stage falls back to the CPU with a warning — its workers are constructed with
//! [`Stateful::new`] — unless it asked for `cpu_fallback = false`: then it is an error.

mod gpu_columns;

pub use gpu_columns::{ColumnsKernel, CpuColumns, gpu_columns_pool};

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;

use crate::error::StageError;
use crate::error::{Error, Result};
use crate::options::ExecOptions;
use crate::sync::Recover;

/// A worker idle for this long is dropped when the pool is above its minimum.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The error a constructor may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A stage with state: constructed once per worker, then called on every batch it gets.
///
/// ```
/// use aqueduct_runtime::__private::RecordBatch;
/// use aqueduct_runtime::pool::{BoxError, Stateful};
///
/// /// Counts the rows it has seen (its state) and passes batches on.
/// struct Counter { seen: usize }
///
/// impl Stateful for Counter {
///     type Args = ();
///     type Batch = RecordBatch;
///     type Output = RecordBatch;
///     fn new(_: ()) -> Result<Self, BoxError> { Ok(Counter { seen: 0 }) }
///     fn call(&mut self, batch: RecordBatch) -> RecordBatch {
///         self.seen += batch.num_rows();
///         batch
///     }
/// }
/// ```
pub trait Stateful: Sized + Send + 'static {
    /// What each worker is constructed from (cloned per worker).
    type Args: Clone + Send + Sync + 'static;
    /// What `call` takes: a `RecordBatch` or a `Vec` of records.
    type Batch;
    /// What `call` returns: a `RecordBatch`, a `Vec` of records, or a `Result` of either.
    type Output;
    /// Construct one worker: load a model, open a connection. Workers of a stage with
    /// `num_gpus` are constructed this way when the machine has no GPU (the CPU fallback).
    fn new(args: Self::Args) -> Result<Self, BoxError>;
    /// Construct one worker placed on the GPUs `devices` (ordinals; a stage with `num_gpus`
    /// on a machine that has them). By default the placement is ignored.
    fn new_on_gpus(args: Self::Args, devices: &[usize]) -> Result<Self, BoxError> {
        let _ = devices;
        Self::new(args)
    }
    /// Process one batch.
    fn call(&mut self, batch: Self::Batch) -> Self::Output;
}

/// How a stage's work is spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compute {
    /// Stateful workers, between `min` and `max` of them.
    Actors {
        /// Workers started with the pool.
        min: usize,
        /// Workers the pool may grow to while batches wait.
        max: usize,
    },
    /// A stateless function, at most `n` calls at once.
    Tasks(usize),
}

/// What each worker of a stage needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    /// CPU cores per worker (`num_cpus`): bounds how many workers run at once.
    pub cpus: Option<f64>,
    /// GPUs per worker (`num_gpus`): a fraction packs several workers on one device.
    pub gpus: Option<f64>,
    /// Bytes of memory per worker (`memory`), taken from the run's budget.
    pub memory: Option<usize>,
    /// With `gpus` and no device: run on the CPU (`true`, the default) or fail.
    pub cpu_fallback: bool,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpus: None,
            gpus: None,
            memory: None,
            cpu_fallback: true,
        }
    }
}

/// A worker's constructor failed (returned an error or panicked).
#[derive(Debug, thiserror::Error)]
#[error("could not construct a worker: {reason}")]
pub struct ConstructorError {
    /// What the constructor returned or the panic said.
    pub reason: String,
}

/// A worker, type-erased: calls the user's `call` on one block.
pub trait Worker: Send {
    /// Run the user's `call` on one block.
    fn call(&mut self, block: RecordBatch) -> Result<RecordBatch, StageError>;
}

/// Constructs a worker placed on the given GPU ordinals (none: on the CPU).
type Construct = dyn Fn(&[usize]) -> Result<Box<dyn Worker>, BoxError> + Send + Sync;

/// How to make a stage's pool: its strategy, resources, and worker constructor.
pub struct PoolSpec {
    pub compute: Compute,
    pub resources: Resources,
    /// Above the minimum, workers idle this long are dropped (default [`IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    construct: Box<Construct>,
}

impl PoolSpec {
    /// A spec constructing workers with `construct`.
    pub fn new(
        compute: Compute,
        resources: Resources,
        construct: impl Fn(&[usize]) -> Result<Box<dyn Worker>, BoxError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            compute,
            resources,
            idle_timeout: IDLE_TIMEOUT,
            construct: Box::new(construct),
        }
    }

    /// The pool of one run, its size capped by the resources the run has.
    #[allow(clippy::result_large_err)]
    pub fn pool(self: &Arc<Self>, stage: &str, options: &ExecOptions) -> Result<Arc<Pool>> {
        let (min, max) = match self.compute {
            Compute::Actors { min, max } => (min, max.max(min).max(1)),
            Compute::Tasks(n) => (0, n.max(1)),
        };
        let mut cap = max;
        if let Some(cpus) = self.resources.cpus.filter(|c| *c > 0.0) {
            cap = cap.min(((options.threads as f64 / cpus).floor() as usize).max(1));
        }
        if let Some(bytes) = self.resources.memory.filter(|b| *b > 0) {
            cap = cap.min(crate::budget::Shares::of(options).workers_of(bytes));
        }
        let mut placement = None;
        if let Some(gpus) = self.resources.gpus.filter(|g| *g > 0.0) {
            let devices = crate::gpu::device_count();
            if (devices as f64) >= gpus {
                cap = cap.min(((devices as f64 / gpus).floor() as usize).max(1));
                placement = Some(Placement { gpus, devices });
            } else if self.resources.cpu_fallback && devices == 0 {
                tracing::warn!(
                    stage,
                    "each worker asks for {gpus} GPU(s) but this machine has none: running on the CPU"
                );
            } else {
                return Err(Error::Resources {
                    stage: stage.to_owned(),
                    reason: format!(
                        "each worker needs {gpus} GPU(s) but this machine has {devices}{}",
                        if self.resources.cpu_fallback {
                            ""
                        } else {
                            " (and the stage asked for no CPU fallback)"
                        }
                    ),
                });
            }
        }
        Ok(Arc::new(Pool {
            stage: stage.to_owned(),
            spec: self.clone(),
            placement,
            min: min.min(cap),
            max: cap,
            state: Mutex::new(PoolState::default()),
            returned: Condvar::new(),
        }))
    }
}

#[derive(Default)]
struct PoolState {
    /// Idle workers, with when each went idle.
    idle: Vec<(Box<dyn Worker>, Instant)>,
    /// Workers in existence (idle or in use, or being constructed).
    live: usize,
    /// Workers constructed over the run.
    constructed: usize,
    /// Constructions started over the run (numbering the workers for placement).
    started: usize,
    /// The most that existed at once.
    peak: usize,
}

/// Where a stage's workers go: `gpus` each, over `devices`.
#[derive(Debug, Clone, Copy)]
struct Placement {
    gpus: f64,
    devices: usize,
}

impl Placement {
    /// The devices of the `serial`-th worker constructed: whole GPUs in turn, or (for a
    /// fraction) workers packed onto one device until its share is used.
    fn devices(&self, serial: usize) -> Vec<usize> {
        let first = (serial as f64 * self.gpus).floor() as usize;
        let count = self.gpus.ceil() as usize;
        (first..first + count).map(|d| d % self.devices).collect()
    }
}

/// The workers of one stage in one run.
pub struct Pool {
    stage: String,
    spec: Arc<PoolSpec>,
    /// `None`: workers run on the CPU.
    placement: Option<Placement>,
    min: usize,
    max: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

impl Pool {
    /// Run `block` through an idle worker (constructing or waiting for one as the pool
    /// allows). A constructor's failure or panic is an error of the stage.
    pub fn call(&self, block: RecordBatch) -> Result<RecordBatch, StageError> {
        let mut worker = self.take().map_err(|e| StageError::User(Box::new(e)))?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.call(block)));
        // A worker that panicked may be broken: it is dropped, not given back.
        match result {
            Ok(result) => {
                self.give_back(worker);
                result
            }
            Err(panic) => {
                self.lost();
                std::panic::resume_unwind(panic)
            }
        }
    }

    fn lost(&self) {
        let mut state = self.state.lock().recover();
        state.live -= 1;
        self.returned.notify_one();
    }

    fn take(&self) -> Result<Box<dyn Worker>, ConstructorError> {
        let mut state = self.state.lock().recover();
        loop {
            if let Some((worker, _)) = state.idle.pop() {
                return Ok(worker);
            }
            if state.live < self.max {
                state.live += 1;
                state.peak = state.peak.max(state.live);
                let serial = state.started;
                state.started += 1;
                drop(state);
                return self.construct(serial);
            }
            // A batch waits for a worker: with room to grow this never happens.
            state = self.returned.wait(state).recover();
        }
    }

    fn construct(&self, serial: usize) -> Result<Box<dyn Worker>, ConstructorError> {
        let devices = self
            .placement
            .map(|p| p.devices(serial))
            .unwrap_or_default();
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (self.spec.construct)(&devices)
        }));
        let failed = |reason: String| {
            self.lost();
            ConstructorError { reason }
        };
        match built {
            Ok(Ok(worker)) => {
                let mut state = self.state.lock().recover();
                state.constructed += 1;
                tracing::debug!(stage = %self.stage, live = state.live, "worker constructed");
                Ok(worker)
            }
            Ok(Err(error)) => Err(failed(error.to_string())),
            Err(panic) => Err(failed(format!(
                "panicked: {}",
                crate::error::panic_message(&panic)
            ))),
        }
    }

    fn give_back(&self, worker: Box<dyn Worker>) {
        let mut state = self.state.lock().recover();
        let now = Instant::now();
        state.idle.push((worker, now));
        // Shrink: drop workers idle too long, down to the minimum.
        while state.live > self.min {
            let Some(at) = state
                .idle
                .iter()
                .position(|(_, since)| now.duration_since(*since) > self.spec.idle_timeout)
            else {
                break;
            };
            state.idle.swap_remove(at);
            state.live -= 1;
        }
        self.returned.notify_one();
    }

    /// Workers constructed so far in this run.
    pub fn constructed(&self) -> usize {
        self.state.lock().recover().constructed
    }

    /// Workers that exist now.
    pub fn live(&self) -> usize {
        self.state.lock().recover().live
    }

    /// The most workers that existed at once.
    pub fn peak(&self) -> usize {
        self.state.lock().recover().peak
    }

    /// The pool's limits (min, max) after resources.
    pub fn limits(&self) -> (usize, usize) {
        (self.min, self.max)
    }
}

/// A worker of a [`Stateful`] type, converting blocks to its batch type and back.
pub struct StatefulWorker<T, F> {
    pub state: T,
    pub call: F,
}

impl<T: Send, F> Worker for StatefulWorker<T, F>
where
    F: Fn(&mut T, RecordBatch) -> Result<RecordBatch, StageError> + Send,
{
    fn call(&mut self, block: RecordBatch) -> Result<RecordBatch, StageError> {
        (self.call)(&mut self.state, block)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use arrow::array::Int32Array;

    use super::*;

    fn block() -> RecordBatch {
        let schema = arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "x",
            arrow::datatypes::DataType::Int32,
            false,
        )]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(Int32Array::from(vec![1]))]).unwrap()
    }

    #[test]
    fn an_autoscaling_pool_grows_while_batches_wait_and_shrinks_when_idle() {
        // Three calls that can only finish together force three workers to exist at once.
        let barrier = Arc::new(Barrier::new(3));
        let mut spec = PoolSpec::new(Compute::Actors { min: 1, max: 3 }, Resources::default(), {
            let barrier = barrier.clone();
            move |_| {
                let barrier = barrier.clone();
                let call = move |_: &mut (), b: RecordBatch| {
                    barrier.wait();
                    Ok(b)
                };
                Ok(Box::new(StatefulWorker { state: (), call }) as Box<dyn Worker>)
            }
        });
        spec.idle_timeout = Duration::ZERO;
        let options = ExecOptions {
            threads: 3,
            ..ExecOptions::default()
        };
        let pool = Arc::new(spec).pool("stage", &options).unwrap();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| pool.call(block()).unwrap());
            }
        });
        assert_eq!(pool.peak(), 3);
        assert_eq!(pool.constructed(), 3);
        // With no idle time allowed, the pool is back at its minimum.
        assert_eq!(pool.live(), 1);
    }

    #[test]
    fn resources_cap_the_pool() {
        let spec = Arc::new(PoolSpec::new(
            Compute::Actors { min: 8, max: 8 },
            Resources {
                memory: Some(100 << 20),
                ..Resources::default()
            },
            |_| unreachable!("not constructed"),
        ));
        let options = ExecOptions {
            threads: 16,
            memory_budget: 250 << 20,
            ..ExecOptions::default()
        };
        assert_eq!(spec.pool("stage", &options).unwrap().limits(), (2, 2));
    }

    #[test]
    fn workers_are_placed_on_devices_in_turn_or_packed_by_fraction() {
        let whole = Placement {
            gpus: 1.0,
            devices: 2,
        };
        assert_eq!(
            (0..3).map(|k| whole.devices(k)).collect::<Vec<_>>(),
            [vec![0], vec![1], vec![0]]
        );
        let half = Placement {
            gpus: 0.5,
            devices: 2,
        };
        assert_eq!(
            (0..4).map(|k| half.devices(k)).collect::<Vec<_>>(),
            [vec![0], vec![0], vec![1], vec![1]]
        );
        let two = Placement {
            gpus: 2.0,
            devices: 4,
        };
        assert_eq!(two.devices(1), [2, 3]);
    }

    #[test]
    fn without_a_device_a_gpu_stage_falls_back_to_the_cpu_unless_told_not_to() {
        let spec = |cpu_fallback| {
            Arc::new(PoolSpec::new(
                Compute::Actors { min: 1, max: 1 },
                Resources {
                    gpus: Some(1.0),
                    cpu_fallback,
                    ..Resources::default()
                },
                |gpus| {
                    assert!(gpus.is_empty(), "placed on the CPU");
                    let call = |_: &mut (), b: RecordBatch| Ok(b);
                    Ok(Box::new(StatefulWorker { state: (), call }) as Box<dyn Worker>)
                },
            ))
        };
        let options = ExecOptions::default();
        if crate::gpu::device_count() > 0 {
            return; // This machine has a GPU: nothing falls back.
        }
        let pool = spec(true).pool("classify", &options).unwrap();
        assert_eq!(pool.call(block()).unwrap().num_rows(), 1);
        let error = spec(false)
            .pool("classify", &options)
            .err()
            .expect("no fallback asked")
            .to_string();
        assert!(
            error.contains("classify") && error.contains("needs 1 GPU(s) but this machine has 0"),
            "{error}"
        );
    }
}
