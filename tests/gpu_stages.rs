//! `with_columns(.., num_gpus = n)` on any machine: without a GPU the stage runs its CPU code
//! (identical to the same stage without `gpus`), or fails clearly with `cpu_fallback = false`.
//! On a GPU machine built with `cuda` the same comparison checks the emitted kernel.

#[path = "shared/gpu_columns.rs"]
mod gpu_columns;

use aqueduct::prelude::*;
use gpu_columns::Reading;

#[test]
fn a_gpu_column_stage_gives_what_the_cpu_gives() {
    gpu_columns::compare(20_000).unwrap();
}

#[test]
fn a_gpu_stage_over_tensors_gives_what_the_cpu_and_plain_rust_give() {
    gpu_columns::compare_tensors(3_000).unwrap();
}

#[test]
fn without_a_gpu_a_stage_that_refuses_the_cpu_fails_naming_itself() {
    if aqueduct::gpu::device_count() > 0 {
        return; // The stage has its GPU here; nothing to refuse.
    }
    let err = pipeline! {
        from_items::<Reading>(gpu_columns::readings(10))
        |> with_columns(z = x * 2.0, num_gpus = 1, cpu_fallback = false)
    }
    .count()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("with_columns(z = x * 2.0")
            && err.contains("needs 1 GPU(s) but this machine has 0"),
        "{err}"
    );
}
