//! `filter(predicate)`: keep the rows where a column expression is true, or where a closure
//! over `&Record` returns true.

use super::{Checker, check_args, closure};
use crate::expr::compile;
use crate::plan::NodeKind;
use crate::schema::Schema;
use crate::types::LType;

pub fn check(
    ck: &Checker,
    call: &crate::syntax::Call,
    input: &Schema,
) -> Option<(NodeKind, Schema)> {
    if !check_args(ck.cx, call, &["predicate"], &[]) {
        return None;
    }
    let predicate = call.positional().next()?;
    if let syn::Expr::Closure(_) = predicate {
        let record = closure::input_record(ck, "filter", predicate, input).ok()?;
        return Some((
            NodeKind::FilterFn {
                func: predicate.clone(),
                input: record,
            },
            input.clone(),
        ));
    }
    let value = compile(ck.cx, predicate, &mut crate::emit::TypeScope::new(input))?;
    if !matches!(value.ltype, LType::Bool | LType::Opaque(_)) {
        ck.cx.error_spanned_by(
            predicate,
            format!("`filter` needs a `bool` predicate, found `{}`", value.ltype),
        );
        return None;
    }
    Some((NodeKind::Filter(predicate.clone()), input.clone()))
}
