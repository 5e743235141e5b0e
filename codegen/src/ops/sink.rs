//! Sinks ending a pipeline: `write_parquet(location)`, `write_csv(location)`,
//! `write_json(location)`. `write_parquet::<R>(..)` states the record the files must hold, and
//! the pipeline's output is checked against it.

use quote::quote;

use super::{Checker, check_args};
use crate::plan::{SinkNode, compact};
use crate::schema::{Schema, path_text};
use crate::syntax::Call;

pub fn check(ck: &Checker, call: &Call, input: &Schema) -> Option<SinkNode> {
    let name = call.name.to_string();
    if !super::SINKS.contains(&name.as_str()) {
        super::unknown_stage(ck.cx, call, super::SINKS, "sink");
        return None;
    }
    let plain = Call {
        generics: Vec::new(),
        generics_tokens: None,
        ..call.clone()
    };
    if !check_args(ck.cx, &plain, &["location"], &[]) {
        return None;
    }
    if let [ty] = call.generics.as_slice() {
        let path = super::closure::record_path(ty)?;
        let expected = ck.records.schema(&path)?;
        if !expected.same_columns(input) {
            ck.cx.error_spanned_by(
                ty,
                format!(
                    "`{name}` expects rows of `{}` ({}) but the pipeline produces {}",
                    path_text(&path),
                    expected.signature(),
                    input.signature()
                ),
            );
            return None;
        }
    }
    Some(SinkNode {
        method: call.name.clone(),
        location: call.positional().next()?.clone(),
        text: compact(quote!(#call)),
    })
}
