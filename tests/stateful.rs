//! Stateful `map_batches` stages and worker pools: constructors run once per worker, pools
//! respect their sizes and the resources they are given, failures are clear errors.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aqueduct::pool::{BoxError, Stateful};
use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Item {
    id: i64,
    value: f64,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Tagged {
    id: i64,
    scaled: f64,
    worker: u64,
}

fn items(n: i64) -> Vec<Item> {
    (0..n)
        .map(|id| Item {
            id,
            value: id as f64,
        })
        .collect()
}

/// Each test counts its own constructions: tests run in parallel.
static CONSTRUCTED: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// Scales values by a factor given to its constructor; stamps its worker number on the rows.
struct Scaler {
    factor: f64,
    worker: u64,
}

impl Stateful for Scaler {
    /// (factor, which counter to use)
    type Args = (f64, usize);
    type Batch = Vec<Item>;
    type Output = Vec<Tagged>;

    fn new((factor, counter): (f64, usize)) -> Result<Self, BoxError> {
        let worker = CONSTRUCTED[counter].fetch_add(1, Ordering::SeqCst) as u64;
        Ok(Scaler { factor, worker })
    }

    fn call(&mut self, batch: Vec<Item>) -> Vec<Tagged> {
        // A little work, so that batches queue for workers.
        std::thread::sleep(std::time::Duration::from_micros(200));
        batch
            .into_iter()
            .map(|i| Tagged {
                id: i.id,
                scaled: i.value * self.factor,
                worker: self.worker,
            })
            .collect()
    }
}

fn workers_seen(rows: &[Tagged]) -> BTreeSet<u64> {
    rows.iter().map(|r| r.worker).collect()
}

#[test]
fn each_worker_is_constructed_once_and_used_for_many_batches() {
    let ds = pipeline! {
        from_items::<Item>(items(200_000))
        |> map_batches::<Tagged>(Scaler, args = (2.5, 0usize), compute = actors(2), batch_size = 1000)
    }
    .with_threads(4);
    let rows = ds.take_all().unwrap();
    assert_eq!(rows.len(), 200_000);
    assert!(rows.iter().all(|r| r.scaled == r.id as f64 * 2.5));
    let constructed = CONSTRUCTED[0].load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&constructed),
        "at most the pool size: {constructed}"
    );
    assert_eq!(
        workers_seen(&rows).len(),
        constructed,
        "every worker constructed was used"
    );
    // A second run makes its own workers.
    ds.count().unwrap();
    assert!(CONSTRUCTED[0].load(Ordering::SeqCst) > constructed);
}

#[test]
fn a_pool_of_one_serializes_and_resources_cap_the_pool() {
    let rows = pipeline! {
        from_items::<Item>(items(100_000))
        |> map_batches::<Tagged>(Scaler, args = (1.0, 1usize), compute = actors(1), batch_size = 500)
    }
    .with_threads(4)
    .take_all()
    .unwrap();
    assert_eq!(CONSTRUCTED[1].load(Ordering::SeqCst), 1);
    assert_eq!(workers_seen(&rows), BTreeSet::from([0]));

    // Four actors wanted, but each needs both of the run's CPUs: one fits.
    let rows = pipeline! {
        from_items::<Item>(items(100_000))
        |> map_batches::<Tagged>(Scaler, args = (1.0, 2usize), compute = actors(4), num_cpus = 2, batch_size = 500)
    }
    .with_threads(2)
    .take_all()
    .unwrap();
    assert_eq!(CONSTRUCTED[2].load(Ordering::SeqCst), 1);
    assert_eq!(rows.len(), 100_000);
}

#[test]
fn an_autoscaling_pool_stays_within_its_bounds() {
    let rows = pipeline! {
        from_items::<Item>(items(400_000))
        |> map_batches::<Tagged>(Scaler, args = (1.0, 3usize), compute = actors(1, 3), batch_size = 500)
    }
    .with_threads(4)
    .take_all()
    .unwrap();
    assert_eq!(rows.len(), 400_000);
    let constructed = CONSTRUCTED[3].load(Ordering::SeqCst);
    assert!((1..=3).contains(&constructed), "{constructed}");
    assert_eq!(workers_seen(&rows).len(), constructed);
}

/// Fails to construct, the way a missing model file would.
struct Broken;

impl Stateful for Broken {
    type Args = String;
    type Batch = RecordBatch;
    type Output = RecordBatch;
    fn new(path: String) -> Result<Self, BoxError> {
        Err(format!("no weights at `{path}`").into())
    }
    fn call(&mut self, batch: RecordBatch) -> RecordBatch {
        batch
    }
}

/// Panics in its constructor.
struct Panicky;

impl Stateful for Panicky {
    type Args = ();
    type Batch = RecordBatch;
    type Output = RecordBatch;
    fn new(_: ()) -> Result<Self, BoxError> {
        panic!("the model is corrupt")
    }
    fn call(&mut self, batch: RecordBatch) -> RecordBatch {
        batch
    }
}

#[test]
fn constructor_failures_are_clear_errors() {
    let err = pipeline! {
        from_items::<Item>(items(10))
        |> map_batches(Broken, args = (String::from("model.bin")), compute = actors(2))
    }
    .count()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("could not construct a worker: no weights at `model.bin`"),
        "{err}"
    );
    assert!(err.contains("map_batches(Broken"), "names the stage: {err}");

    let err = pipeline! {
        from_items::<Item>(items(10))
        |> map_batches(Panicky, compute = actors(1))
    }
    .count()
    .unwrap_err()
    .to_string();
    assert!(err.contains("panicked: the model is corrupt"), "{err}");
}

#[test]
fn a_task_pool_bounds_concurrent_calls() {
    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    static MOST: Mutex<usize> = Mutex::new(0);
    let rows = pipeline! {
        from_items::<Item>(items(100_000))
        |> map_batches(|batch: RecordBatch| {
            let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
            {
                let mut most = MOST.lock().unwrap();
                *most = (*most).max(now);
            }
            std::thread::sleep(std::time::Duration::from_micros(300));
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            batch
        }, compute = tasks(1), batch_size = 2000)
    }
    .with_threads(4)
    .count()
    .unwrap();
    assert_eq!(rows, 100_000);
    assert_eq!(*MOST.lock().unwrap(), 1);
}

#[test]
fn gpus_on_a_machine_without_them_fall_back_to_the_cpu_unless_refused() {
    if aqueduct::gpu::device_count() > 0 {
        return; // This machine has GPUs: nothing falls back.
    }
    let rows = pipeline! {
        from_items::<Item>(items(10))
        |> map_batches(|b: RecordBatch| b, num_gpus = 1)
    }
    .count()
    .unwrap();
    assert_eq!(rows, 10);
    let err = pipeline! {
        from_items::<Item>(items(10))
        |> map_batches(|b: RecordBatch| b, num_gpus = 1, cpu_fallback = false)
    }
    .count()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("each worker needs 1 GPU(s) but this machine has 0"),
        "{err}"
    );
}
