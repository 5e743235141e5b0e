//! Rewrites of the checked plan, one per file, run in this order:
//! 1. `projection`: sources read only the columns some later stage uses.
//! 2. `predicate`: comparisons in leading filters go to the parquet reader (row-group skipping).
//!    Both only need the logical stages, and neither changes them, so their order is free.
//! 3. `dictionary`: string group keys read straight into an aggregate come as dictionaries.
//! 4. `fusion`: adjacent row-wise stages become one segment (one loop per block) — last,
//!    because it decides the physical stages.

pub mod dictionary;
pub mod fusion;
pub mod predicate;
pub mod projection;
