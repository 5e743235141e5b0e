//! Dictionary keys: a parquet string column that goes straight from the reader into an
//! aggregate as a group key is read as the file's dictionary (values + keys) instead of one
//! string per row. The aggregate then finds each block's groups once per dictionary value
//! (PERFORMANCE.md: hashing one string per row made W1 3.4× slower).
//!
//! Only when no block is built between the reader and the aggregate (the stages before it
//! are all fused into its loop): elsewhere blocks must carry the declared `Utf8` columns.

use crate::plan::{NodeKind, Plan, SourceKind};
use crate::types::LType;

/// Set `plan.source.dictionary`. Returns whether any column is read as a dictionary.
pub fn run(plan: &mut Plan) -> bool {
    plan.source.dictionary.clear();
    if plan.source.kind != SourceKind::Parquet {
        return false;
    }
    let Some(index) = plan.stages.iter().position(|s| !s.kind.is_row_wise()) else {
        return false;
    };
    let NodeKind::Aggregate { keys, .. } = &plan.stages[index].kind else {
        return false;
    };
    if index > 0 && !plan.fusion {
        return false;
    }
    let before = &plan.stages[..index];
    let untouched = |key: &str| {
        before.iter().all(|s| match &s.kind {
            NodeKind::WithColumns { columns, .. } => columns.iter().all(|c| c.name != key),
            NodeKind::Rename(pairs) => pairs.iter().all(|(from, to)| from != key && to != key),
            NodeKind::Map { .. } | NodeKind::FlatMap { .. } => false,
            _ => true,
        })
    };
    let dictionary: Vec<String> = keys
        .iter()
        .filter(|key| {
            let is_string = plan.schemas[0].column(key).is_some_and(|c| match &c.ltype {
                LType::Str => true,
                LType::Nullable(inner) => **inner == LType::Str,
                _ => false,
            });
            is_string && untouched(key) && plan.source.columns.contains(key)
        })
        .cloned()
        .collect();
    plan.source.dictionary = dictionary;
    !plan.source.dictionary.is_empty()
}
