//! Projection pushdown: walk the stages backwards from the output, tracking which columns are
//! needed, and let the source read only those.

use std::collections::BTreeSet;

use crate::expr::columns_read;
use crate::plan::{NodeKind, Plan};

/// Narrow `plan.source.columns` to the columns the pipeline uses, and record in `plan.live`
/// the columns live after each stage. Returns whether the source's columns changed.
pub fn run(plan: &mut Plan) -> bool {
    let mut needed: BTreeSet<String> = plan.output().names().map(str::to_owned).collect();
    let mut live = vec![BTreeSet::new(); plan.schemas.len()];
    for (index, node) in plan.stages.iter().enumerate().rev() {
        let input = &plan.schemas[index];
        live[index + 1] = needed.clone();
        match &node.kind {
            NodeKind::Filter(expr) => read(expr, &mut needed),
            NodeKind::WithColumns { columns, gpu } => {
                // A GPU stage's kernel writes every column it computes.
                if gpu.is_some() {
                    live[index + 1].extend(columns.iter().map(|c| c.name.clone()));
                }
                for column in columns {
                    needed.remove(&column.name);
                }
                for column in columns {
                    read(&column.expr, &mut needed);
                }
            }
            NodeKind::Select(_) | NodeKind::Drop(_) | NodeKind::Limit(_) => {}
            NodeKind::Rename(pairs) => {
                // Backwards, like the walk: `rename(a = b, x = a)` needs `x` for a later `a`.
                for (from, to) in pairs.iter().rev() {
                    if needed.remove(to) {
                        needed.insert(from.clone());
                    }
                }
            }
            NodeKind::Aggregate { keys, aggregates } => {
                needed = keys.iter().cloned().collect();
                needed.extend(
                    aggregates
                        .iter()
                        .filter_map(|a| a.input.as_ref().map(|c| c.name.clone())),
                );
            }
            NodeKind::Rows(crate::plan::RowsOp::Sort(keys)) => {
                needed.extend(keys.iter().map(|(name, _, _)| name.clone()));
            }
            NodeKind::Rows(_) => {}
            NodeKind::FilterFn { .. }
            | NodeKind::Map { .. }
            | NodeKind::FlatMap { .. }
            | NodeKind::MapBatches { .. }
            | NodeKind::MapGroups { .. }
            | NodeKind::Zip { .. } => {
                needed = input.names().map(str::to_owned).collect();
            }
        }
    }
    live[0] = needed.clone();
    plan.live = live;
    let before = plan.source.columns.len();
    plan.source.columns.retain(|c| needed.contains(c));
    plan.source.columns.len() != before
}

fn read(expr: &syn::Expr, needed: &mut BTreeSet<String>) {
    let mut names = Vec::new();
    columns_read(expr, &mut names);
    needed.extend(names);
}
