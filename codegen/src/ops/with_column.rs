//! `with_column(name = expr)` / `with_column(name: Type = expr)`: add a column computed from a
//! column expression, or replace one of the same name.

use syn::spanned::Spanned;

use super::Checker;
use crate::expr::compile;
use crate::plan::NodeKind;
use crate::schema::{Column, Schema};
use crate::syntax::{Arg, Call};
use crate::types::LType;

pub fn check(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    let cx = ck.cx;
    let (name, ty, value) = match call.args.as_slice() {
        [Arg::Named { name, ty, value }] => (name, ty, value),
        _ => {
            cx.error_at(
                call.paren_span,
                "`with_column` takes one `name = expression` (or `name: Type = expression`)",
            );
            return None;
        }
    };
    if !call.generics.is_empty() {
        cx.error_spanned_by(
            &call.generics_tokens,
            "`with_column` takes no type arguments",
        );
    }
    let compiled = compile(cx, value, &mut crate::emit::TypeScope::new(input))?;
    let (ltype, rust_ty) = match ty {
        Some(ty) => {
            let declared = LType::of(ty);
            let fits = matches!(compiled.ltype, LType::Opaque(_))
                || compiled.ltype == declared
                || (compiled.ltype == LType::Int("i64")
                    && matches!(declared, LType::Int(_) | LType::Float(_)))
                || (compiled.ltype == LType::Float("f64") && matches!(declared, LType::Float(_)));
            if !fits {
                cx.error_spanned_by(
                    ty,
                    format!("the expression is `{}`, not `{declared}`", compiled.ltype),
                );
                return None;
            }
            (declared, quote::quote!(#ty))
        }
        None => match compiled.ltype.rust_type() {
            Some(rust) => (compiled.ltype.clone(), rust),
            None => {
                cx.error_at(
                    value.span(),
                    format!("cannot tell the type of column `{name}` (`{}`): annotate it, e.g. `with_column({name}: f64 = ...)`", compiled.ltype),
                );
                return None;
            }
        },
    };
    let column = Column {
        name: name.to_string(),
        ty: rust_ty,
        ltype,
    };
    let mut columns = input.columns.clone();
    match columns.iter_mut().find(|c| c.name == column.name) {
        Some(existing) => *existing = column,
        None => columns.push(column),
    }
    Some((
        NodeKind::WithColumn {
            name: name.to_string(),
            ty: ty.clone(),
            expr: value.clone(),
        },
        Schema {
            record: None,
            columns,
        },
    ))
}
