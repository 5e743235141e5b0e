//! Projection pushdown: walk the stages backwards from the output, tracking which columns are
//! needed (each operator says what it needs: `Operator::needs`), and let the source read only
//! those.

use std::collections::BTreeSet;

use crate::plan::Plan;

/// Narrow `plan.source.columns` to the columns the pipeline uses, and record in `plan.live`
/// the columns live after each stage. Returns whether the source's columns changed.
pub fn run(plan: &mut Plan) -> bool {
    let mut needed: BTreeSet<String> = plan.output().names().map(str::to_owned).collect();
    let mut live = vec![BTreeSet::new(); plan.schemas.len()];
    for (index, node) in plan.stages.iter().enumerate().rev() {
        live[index + 1] = needed;
        needed = node.op.needs(&plan.schemas[index], &mut live[index + 1]);
    }
    live[0] = needed.clone();
    plan.live = live;
    let before = plan.source.columns.len();
    plan.source.columns.retain(|c| needed.contains(c));
    plan.source.columns.len() != before
}
