//! Dictionary keys: a parquet string column that goes straight from the reader into an
//! aggregate as a group key is read as the file's dictionary (values + keys) instead of one
//! string per row. The aggregate then finds each block's groups once per dictionary value
//! (hashing one string per row made the benchmark's W1 3.4× slower).
//!
//! Only when no block is built between the reader and the aggregate (the stages before it
//! are all fused into its loop): elsewhere blocks must carry the declared `Utf8` columns.

use crate::plan::{Effect, Kind, Plan, SourceKind};
use crate::types::LType;

/// Set `plan.source.dictionary`. Returns whether any column is read as a dictionary.
pub fn run(plan: &mut Plan) -> bool {
    plan.source.dictionary.clear();
    if plan.source.kind != SourceKind::Parquet {
        return false;
    }
    let Some(index) = plan
        .stages
        .iter()
        .position(|s| s.op.kind() != Kind::RowWise)
    else {
        return false;
    };
    if plan.stages[index].op.kind() != Kind::Fed {
        return false;
    }
    let keys = plan.stages[index].op.group_keys();
    if index > 0 && !plan.fusion {
        return false;
    }
    let before = &plan.stages[..index];
    let untouched = |key: &str| {
        before.iter().all(|s| match s.op.effect() {
            Effect::Selects(_) => true,
            Effect::Computes(columns) => !columns.contains(&key),
            Effect::Renames(pairs) => pairs.iter().all(|(from, to)| from != key && to != key),
            Effect::Opaque => false,
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
