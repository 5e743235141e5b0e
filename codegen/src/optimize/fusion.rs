//! Fusion: group the stages into physical segments. Consecutive row-wise stages share one
//! segment (compiled into one loop per block); `map_batches` and `limit` stand alone.

use crate::plan::Plan;

/// A physical stage: a range of logical stages compiled together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Row-wise stages `start..end`, fused into one loop.
    Fused { start: usize, end: usize },
    /// A stage that runs on its own (`map_batches`, `limit`).
    Single(usize),
}

/// The physical stages of `plan`.
pub fn run(plan: &Plan) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut open: Option<usize> = None;
    for (index, node) in plan.stages.iter().enumerate() {
        if node.kind.is_row_wise() {
            if !plan.fusion
                && let Some(start) = open.take()
            {
                segments.push(Segment::Fused { start, end: index });
            }
            open.get_or_insert(index);
        } else {
            if let Some(start) = open.take() {
                segments.push(Segment::Fused { start, end: index });
            }
            segments.push(Segment::Single(index));
        }
    }
    if let Some(start) = open {
        segments.push(Segment::Fused {
            start,
            end: plan.stages.len(),
        });
    }
    segments
}
