//! A checkpointed job: kill it at any moment (even with SIGKILL) and run it again with the
//! same `--checkpoint`: it resumes where it stopped, and the output holds every row exactly
//! once. `tests/checkpoint.rs` kills it over and over.
//!
//! ```sh
//! cargo run --release --example checkpointed -- --checkpoint /tmp/ck --output events=/tmp/events
//! ```

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone)]
struct Event {
    id: i64,
    value: i64,
}

aqueduct::main!(|job| {
    let default = std::env::temp_dir().join("aqueduct-checkpointed");
    let out = job.output("events", default.to_str().expect("a UTF-8 temp dir"));
    let events: Vec<Event> = (0..400_000)
        .map(|id| Event {
            id,
            value: (id * 7919) % 1000,
        })
        .collect();
    job.run(pipeline! {
        from_items::<Event>(events)
        // Some work per block, so that a kill lands in the middle of the run.
        |> map_batches(|batch: RecordBatch| {
            std::thread::sleep(std::time::Duration::from_millis(3));
            batch
        })
        |> with_column(doubled = value * 2)
        |> write_parquet(out, rows_per_file = 4096)
    })
});
