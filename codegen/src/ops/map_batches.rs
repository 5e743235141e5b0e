//! `map_batches(f, batch_size = N)`: a user function over batches of at most N rows, taking a
//! raw `RecordBatch` or `Vec<Record>` and returning either (or a `Result` of either). The
//! output record comes from a type argument or the return type; without one, the function
//! keeps the input's columns. `args = (a, b)` passes extra arguments after the batch:
//! `f(batch, a, b)` (each cloned per call), as Ray's `fn_args` do; closures can also capture.
//!
//! `compute = actors(n)` (or `actors(min, max)`) makes it a stateful stage: the first argument
//! is a type implementing `Stateful`, each worker constructed once from `args` (Ray's
//! `fn_constructor_kwargs`). `compute = tasks(n)` bounds a function's concurrent calls.
//! `num_cpus`, `num_gpus` and `memory` say what each worker needs; a stage with `num_gpus`
//! runs on the CPU where there is no GPU unless it says `cpu_fallback = false`.

use super::{Checker, check_args, closure};
use crate::plan::{Compute, NodeKind};
use crate::schema::Schema;
use crate::syntax::Call;

pub fn check(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    if !check_args(
        ck.cx,
        call,
        &["f"],
        &[
            "batch_size",
            "args",
            "compute",
            "num_cpus",
            "num_gpus",
            "memory",
            "cpu_fallback",
        ],
    ) {
        return None;
    }
    let compute = match call.named("compute") {
        None => None,
        Some(expr) => Some(Box::new(compute(ck, expr)?)),
    };
    let resources: Vec<(String, syn::Expr)> = ["num_cpus", "num_gpus", "memory", "cpu_fallback"]
        .iter()
        .filter_map(|n| call.named(n).map(|e| (n.to_string(), e.clone())))
        .collect();
    let (func, record, output) = if let Some(Compute::Actors { .. }) = compute.as_deref() {
        let func = call.positional().next()?;
        if !matches!(func, syn::Expr::Path(_)) {
            ck.cx.error_spanned_by(
                func,
                "with `compute = actors(..)`, give the stateful type (implementing `Stateful`), not a value: `map_batches(Classifier, args = (..), compute = actors(2))`",
            );
            return None;
        }
        let declared = call.generics.first().and_then(closure::record_path);
        let output = match declared {
            Some(path) => ck.records.schema(&path)?,
            None => input.clone(),
        };
        (func, None, output)
    } else {
        batch_function(ck, call, input)?
    };
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
            compute,
            resources,
        },
        output,
    ))
}

/// `actors(n)`, `actors(min, max)` or `tasks(n)`.
fn compute(ck: &Checker, expr: &syn::Expr) -> Option<Compute> {
    let usage = "`compute` takes `actors(n)`, `actors(min, max)` or `tasks(n)`";
    let syn::Expr::Call(call) = expr else {
        ck.cx.error_spanned_by(expr, usage);
        return None;
    };
    let name = match &*call.func {
        syn::Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    };
    let args: Vec<&syn::Expr> = call.args.iter().collect();
    match (name.as_deref(), args.as_slice()) {
        (Some("actors"), [n]) => Some(Compute::Actors {
            min: (*n).clone(),
            max: (*n).clone(),
        }),
        (Some("actors"), [min, max]) => Some(Compute::Actors {
            min: (*min).clone(),
            max: (*max).clone(),
        }),
        (Some("tasks"), [n]) => Some(Compute::Tasks((*n).clone())),
        _ => {
            ck.cx.error_spanned_by(expr, usage);
            None
        }
    }
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
