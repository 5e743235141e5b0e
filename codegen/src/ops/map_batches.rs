//! `map_batches(f, batch_size = N)`: a user function over batches of at most N rows, taking a
//! raw `RecordBatch` or `Vec<Record>` and returning either (or a `Result` of either). The
//! output record comes from a type argument or the return type; without one, the function
//! keeps the input's columns. `args = (a, b)` passes extra arguments after the batch:
//! `f(batch, a, b)` (each cloned per call), as Ray's `fn_args` do; closures can also capture.

use super::{Checker, check_args, closure};
use crate::plan::NodeKind;
use crate::schema::Schema;
use crate::syntax::Call;

pub fn check(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    if !check_args(ck.cx, call, &["f"], &["batch_size", "args"]) {
        return None;
    }
    let (func, record, output) = batch_function(ck, call, input)?;
    Some((
        NodeKind::MapBatches {
            func: func.clone(),
            batch_size: call.named("batch_size").cloned(),
            args: match call.named("args") {
                None => Vec::new(),
                Some(syn::Expr::Tuple(tuple)) => tuple.elems.iter().cloned().collect(),
                Some(syn::Expr::Paren(single)) => vec![(*single.expr).clone()],
                Some(other) => {
                    ck.cx.error_spanned_by(
                        other,
                        "`args` takes a tuple of extra arguments: `args = (a, b)`",
                    );
                    return None;
                }
            },
            input: record,
        },
        output,
    ))
}

/// A function over batches (`map_batches`, `map_groups`): the function, the record it takes
/// (when not the input's own) and the schema it produces.
pub fn batch_function<'a>(
    ck: &Checker,
    call: &'a Call,
    input: &Schema,
) -> Option<(&'a syn::Expr, Option<syn::Path>, Schema)> {
    let op = call.name.to_string();
    let func = call.positional().next()?;
    if call.generics.len() > 1 {
        ck.cx.error_spanned_by(
            &call.generics_tokens,
            format!("`{op}` takes one type argument: the record it produces"),
        );
        return None;
    }
    let declared = call
        .generics
        .first()
        .or_else(|| closure::return_type(func))
        .and_then(closure::record_path);
    let output = match declared {
        Some(path) => ck.records.schema(&path)?,
        None => input.clone(),
    };
    let record = closure::input_record(ck, &op, func, input).ok()?;
    Some((func, record, output))
}
