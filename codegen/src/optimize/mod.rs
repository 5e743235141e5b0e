//! Rewrites of the checked plan, one per file, run in this order:
//! 1. `projection`: sources read only the columns some later stage uses — first, because
//!    it only needs the logical stages.
//! 2. `fusion`: adjacent row-wise stages become one segment (one loop per block) — last,
//!    because it decides the physical stages.

pub mod fusion;
pub mod projection;
