//! `map(f)` and `flat_map(f)`: a Rust closure (or function) per row. `map` returns one record,
//! `flat_map` any number (`Vec<Out>`, `Option<Out>`, any `IntoIterator<Item = Out>`). The output
//! record comes from the closure's return type (`|s| -> Out {..}`) or a type argument
//! (`map::<Out>(f)`).

use quote::ToTokens;

use super::{Checker, check_args, closure};
use crate::plan::NodeKind;
use crate::schema::Schema;
use crate::syntax::Call;

pub fn check(ck: &Checker, call: &Call, input: &Schema, flat: bool) -> Option<(NodeKind, Schema)> {
    let op = if flat { "flat_map" } else { "map" };
    if !check_args(ck.cx, call, &["f"], &[]) {
        return None;
    }
    let func = call.positional().next()?;
    let output = output_record(ck, call, func, op)?;
    let record = closure::input_record(ck, op, func, input).ok()?;
    let schema = ck.records.schema(&output)?;
    let kind = if flat {
        NodeKind::FlatMap {
            func: func.clone(),
            input: record,
        }
    } else {
        NodeKind::Map {
            func: func.clone(),
            input: record,
        }
    };
    Some((kind, schema))
}

/// The record a closure stage produces: its type argument, else its closure's return type.
pub fn output_record(ck: &Checker, call: &Call, func: &syn::Expr, op: &str) -> Option<syn::Path> {
    if call.generics.len() > 1 {
        ck.cx.error_spanned_by(
            &call.generics_tokens,
            format!("`{op}` takes one type argument: the record it produces"),
        );
        return None;
    }
    let declared = call.generics.first().or_else(|| closure::return_type(func));
    match declared.and_then(closure::record_path) {
        Some(path) => Some(path),
        None => {
            let at = declared
                .map(|t| t.to_token_stream())
                .unwrap_or_else(|| func.to_token_stream());
            ck.cx.error_spanned_by(
                at,
                format!("`{op}` must declare the record it produces: `{op}(|row| -> Out {{ .. }})` or `{op}::<Out>(f)`"),
            );
            None
        }
    }
}
