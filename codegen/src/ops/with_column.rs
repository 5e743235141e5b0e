//! `with_column(name = expr)` / `with_column(name: Type = expr)`: add a column computed from a
//! column expression, or replace one of the same name.
//!
//! `with_columns(a = expr, b: Type = expr, ..)` computes several at once, each from the
//! stage's input columns. With `num_gpus = n` the stage is marked for the GPU: its expressions
//! are also lowered to one fused PTX kernel (`crate::ptx`), embedded beside the CPU code; a
//! worker placed on a device runs the kernel, and where there is none the CPU code runs
//! (`cpu_fallback = false` makes that an error).

use syn::spanned::Spanned;

use super::Checker;
use crate::expr::compile_column;
use crate::plan::{NewColumn, NodeKind};
use crate::schema::{Column, Schema};
use crate::syntax::{Arg, Call};
use crate::types::LType;

/// Named arguments of `with_columns` that are settings, not columns.
const SETTINGS: &[&str] = &["num_gpus", "cpu_fallback"];

pub fn check(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    let cx = ck.cx;
    let many = call.name == "with_columns";
    if !call.generics.is_empty() {
        cx.error_spanned_by(
            &call.generics_tokens,
            format!("`{}` takes no type arguments", call.name),
        );
    }
    let mut new = Vec::new();
    let (mut gpus, mut cpu_fallback) = (None, None);
    for arg in &call.args {
        match arg {
            Arg::Named {
                name,
                ty: None,
                value,
            } if many && SETTINGS.contains(&name.to_string().as_str()) => {
                if name == "num_gpus" {
                    gpus = Some(value.clone());
                } else {
                    cpu_fallback = Some(value.clone());
                }
            }
            Arg::Named { name, ty, value } => new.push((name, ty, value)),
            Arg::Positional(expr) => {
                cx.error_spanned_by(
                    expr,
                    format!("`{}` takes `name = expression` arguments", call.name),
                );
                return None;
            }
        }
    }
    if new.is_empty() || (!many && new.len() > 1) {
        cx.error_at(
            call.paren_span,
            if many {
                "`with_columns` takes one or more `name = expression` (or `name: Type = expression`), and optionally `num_gpus = n`"
            } else {
                "`with_column` takes one `name = expression` (or `name: Type = expression`); use `with_columns` for several"
            },
        );
        return None;
    }
    if cpu_fallback.is_some() && gpus.is_none() {
        cx.error_spanned_by(&call.args[0], "`cpu_fallback` goes with `num_gpus = n`");
    }
    let mut columns = input.columns.clone();
    let mut checked = Vec::new();
    for (name, ty, value) in new {
        let column = new_column(ck, name, ty, value, input)?;
        if checked.iter().any(|c: &NewColumn| c.name == column.name) {
            cx.error_spanned_by(name, format!("column `{name}` is computed twice"));
            return None;
        }
        match columns.iter_mut().find(|c| c.name == column.name) {
            Some(existing) => *existing = column.clone(),
            None => columns.push(column.clone()),
        }
        checked.push(NewColumn {
            name: name.to_string(),
            ltype: column.ltype,
            ty: ty.clone(),
            expr: value.clone(),
        });
    }
    let kernel = match &gpus {
        Some(_) => {
            let lowered: Vec<_> = checked
                .iter()
                .map(|c| (c.name.clone(), c.ltype.clone(), &c.expr))
                .collect();
            Some(Box::new(crate::ptx::lower(
                cx,
                "aq_columns",
                input,
                &lowered,
            )?))
        }
        None => None,
    };
    Some((
        NodeKind::WithColumns {
            columns: checked,
            gpu: gpus.map(|gpus| crate::plan::Gpu {
                gpus,
                cpu_fallback,
                kernel: kernel.expect("lowered with gpus"),
            }),
        },
        Schema {
            record: None,
            columns,
        },
    ))
}

fn new_column(
    ck: &Checker,
    name: &syn::Ident,
    ty: &Option<Box<syn::Type>>,
    value: &syn::Expr,
    input: &Schema,
) -> Option<Column> {
    let cx = ck.cx;
    let declared = ty.as_ref().map(|t| LType::of(t));
    let element = declared.as_ref().and_then(|d| d.tensor()).map(|(e, _)| e);
    let compiled = compile_column(cx, value, &mut crate::emit::TypeScope::new(input), element)?;
    let (ltype, rust_ty) = match ty {
        Some(ty) => {
            let declared = LType::of(ty);
            let fits = matches!(compiled.ltype, LType::Opaque(_))
                || compiled.ltype == declared
                || (compiled.ltype == LType::Int("i64")
                    && matches!(declared, LType::Int(_) | LType::Float(_)))
                || (compiled.ltype == LType::Float("f64") && matches!(declared, LType::Float(_)))
                || (compiled.ltype == LType::IntLiteral
                    && matches!(declared, LType::Int(_) | LType::Float(_)))
                || (compiled.ltype == LType::FloatLiteral && matches!(declared, LType::Float(_)));
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
            // An untyped literal's column is what its Rust code makes it.
            Some(rust) => (
                match compiled.ltype {
                    LType::IntLiteral => LType::Int("i64"),
                    LType::FloatLiteral => LType::Float("f64"),
                    other => other,
                },
                rust,
            ),
            None => {
                cx.error_at(
                    value.span(),
                    format!("cannot tell the type of column `{name}` (`{}`): annotate it, e.g. `with_column({name}: f64 = ...)`", compiled.ltype),
                );
                return None;
            }
        },
    };
    Some(Column {
        name: name.to_string(),
        ty: rust_ty,
        ltype,
    })
}
