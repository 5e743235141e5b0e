//! Rewrites of the checked plan, one per file, run by [`run`] in the order of [`PASSES`]:
//! 1. `projection`: sources read only the columns some later stage uses.
//! 2. `predicate`: comparisons in leading filters go to the parquet reader (row-group skipping).
//!    Both only need the logical stages, and neither changes them, so their order is free.
//! 3. `dictionary`: string group keys read straight into an aggregate come as dictionaries
//!    (after projection: only columns the source reads).
//!
//! `fusion` is not a rewrite: it groups the optimised plan's stages into physical segments,
//! and `emit` asks it for them — last, because it decides the physical stages.

pub mod dictionary;
pub mod fusion;
pub mod predicate;
pub mod projection;

use crate::plan::Plan;

/// A rewrite: whether it changed the plan.
pub type Pass = fn(&mut Plan) -> bool;

/// The rewrites, named, in the order they run.
pub const PASSES: &[(&str, Pass)] = &[
    ("projection", projection::run),
    ("predicate", predicate::run),
    ("dictionary", dictionary::run),
];

/// Run every rewrite on `plan`.
pub fn run(plan: &mut Plan) {
    for (_, pass) in PASSES {
        pass(plan);
    }
}
