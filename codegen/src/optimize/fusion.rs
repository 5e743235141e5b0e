//! Fusion: group the stages into physical segments. Consecutive row-wise stages share one
//! segment (compiled into one loop per block); `map_batches`, `limit` and all-to-all
//! operators stand alone, except that an aggregate absorbs the row-wise stages just before
//! it: their loop updates its hash table directly.

use crate::plan::{Kind, Plan};

/// A physical stage: a range of logical stages compiled together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Row-wise stages `start..end`, fused into one loop.
    Fused { start: usize, end: usize },
    /// A stage that runs on its own (`map_batches`, `limit`, all-to-all operators).
    Single(usize),
    /// Aggregate `index`, fed by the loop of row-wise stages `start..index` (`start == index`
    /// when none runs before it).
    Aggregate { start: usize, index: usize },
}

/// The physical stages of `plan`.
pub fn run(plan: &Plan) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut open: Option<usize> = None;
    for (index, node) in plan.stages.iter().enumerate() {
        let kind = node.op.kind();
        if kind == Kind::RowWise {
            if !plan.fusion
                && let Some(start) = open.take()
            {
                segments.push(Segment::Fused { start, end: index });
            }
            open.get_or_insert(index);
        } else if kind == Kind::Fed {
            let start = if plan.fusion { open.take() } else { None };
            if let Some(start) = open.take() {
                segments.push(Segment::Fused { start, end: index });
            }
            segments.push(Segment::Aggregate {
                start: start.unwrap_or(index),
                index,
            });
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

impl Segment {
    /// Whether the segment is an all-to-all operator (a pipeline breaker between phases).
    pub fn is_all_to_all(&self, plan: &Plan) -> bool {
        match *self {
            Segment::Aggregate { .. } => true,
            Segment::Single(index) => plan.stages[index].op.kind() == Kind::AllToAll,
            Segment::Fused { .. } => false,
        }
    }
}
