//! `with_column(name = expr)` / `with_column(name: Type = expr)`: add a column computed from a
//! column expression, or replace one of the same name.
//!
//! `with_columns(a = expr, b: Type = expr, ..)` computes several at once, each from the
//! stage's input columns. With `num_gpus = n` the stage is marked for the GPU: its expressions
//! are also lowered to one fused PTX kernel (`crate::ptx`), embedded beside the CPU code; a
//! worker placed on a device runs the kernel, and where there is none the CPU code runs
//! (`cpu_fallback = false` makes that an error).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;

use super::{Checked, Checker, Spec};
use crate::emit::{GeneratedRecords, RowLoop};
use crate::expr::{Held, TypedColumn, check_column, columns_read, render_column};
use crate::plan::{At, Effect, Kind, Operator};
use crate::schema::{Column, Schema};
use crate::syntax::{Arg, Call};
use crate::tokens::rt;
use crate::type_scope::TypeScope;
use crate::types::LType;

pub const SPEC: Spec = Spec {
    name: "with_column",
    type_args: false,
    check,
};
pub const SPEC_MANY: Spec = Spec {
    name: "with_columns",
    type_args: false,
    check,
};

/// Add or replace columns, each computed from the input's columns; with `gpu`, a stage of
/// its own whose kernel is lowered to PTX.
struct WithColumns {
    columns: Vec<NewColumn>,
    gpu: Option<Gpu>,
}

/// A column computed by `with_column(s)`.
struct NewColumn {
    name: String,
    /// The declared type, if any.
    ty: Option<Box<syn::Type>>,
    expr: syn::Expr,
    /// The expression, type-checked.
    typed: TypedColumn,
}

/// A `with_columns(.., num_gpus = n)` stage's GPU side.
struct Gpu {
    /// GPUs per worker.
    gpus: syn::Expr,
    /// `cpu_fallback = false` (default true).
    cpu_fallback: Option<syn::Expr>,
    /// The expressions as one PTX kernel.
    kernel: Box<crate::ptx::Kernel>,
}

/// Named arguments of `with_columns` that are settings, not columns.
const SETTINGS: &[&str] = &["num_gpus", "cpu_fallback"];

fn check(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
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
        let (column, typed) = new_column(ck, name, ty, value, input)?;
        if checked
            .iter()
            .any(|(c, _): &(NewColumn, _)| c.name == column.name)
        {
            cx.error_spanned_by(name, format!("column `{name}` is computed twice"));
            return None;
        }
        match columns.iter_mut().find(|c| c.name == column.name) {
            Some(existing) => *existing = column.clone(),
            None => columns.push(column.clone()),
        }
        checked.push((
            NewColumn {
                name: name.to_string(),
                ty: ty.clone(),
                expr: value.clone(),
                typed,
            },
            column.ltype,
        ));
    }
    let kernel = match &gpus {
        Some(_) => {
            let lowered: Vec<_> = checked
                .iter()
                .map(|(c, ltype)| (c.name.clone(), ltype.clone(), &c.expr))
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
    let op = WithColumns {
        columns: checked.into_iter().map(|(c, _)| c).collect(),
        gpu: gpus.map(|gpus| Gpu {
            gpus,
            cpu_fallback,
            kernel: kernel.expect("lowered with gpus"),
        }),
    };
    Some((
        Box::new(op),
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
) -> Option<(Column, TypedColumn)> {
    let cx = ck.cx;
    let declared = ty.as_ref().map(|t| LType::of(t));
    let element = declared.as_ref().and_then(|d| d.tensor()).map(|(e, _)| e);
    let compiled = check_column(cx, value, &mut TypeScope::new(input), element)?;
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
                match &compiled.ltype {
                    LType::IntLiteral => LType::Int("i64"),
                    LType::FloatLiteral => LType::Float("f64"),
                    other => other.clone(),
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
    let column = Column {
        name: name.to_string(),
        ty: rust_ty,
        ltype,
    };
    Some((column, compiled))
}

impl Operator for WithColumns {
    fn kind(&self) -> Kind {
        match self.gpu {
            Some(_) => Kind::Alone,
            None => Kind::RowWise,
        }
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        // A GPU stage's kernel writes every column it computes.
        if self.gpu.is_some() {
            live.extend(self.columns.iter().map(|c| c.name.clone()));
        }
        let mut needed = live.clone();
        for column in &self.columns {
            needed.remove(&column.name);
        }
        let mut read = Vec::new();
        for column in &self.columns {
            columns_read(&column.expr, &mut read);
        }
        needed.extend(read);
        needed
    }

    fn effect(&self) -> Effect<'_> {
        Effect::Computes(self.columns.iter().map(|c| c.name.as_str()).collect())
    }

    fn physical(&self, text: &str) -> Option<String> {
        let kernel = &self.gpu.as_ref()?.kernel;
        Some(format!(
            "{text} (kernel `{}` on GPUs, {} thread(s) per row; its CPU loop where there are none)",
            kernel.name, kernel.elements
        ))
    }

    #[cfg(test)]
    fn gpu_kernel(&self) -> Option<&crate::ptx::Kernel> {
        self.gpu.as_ref().map(|gpu| &*gpu.kernel)
    }

    fn fuse(&self, lp: &mut RowLoop, at: &At, _: &mut GeneratedRecords) {
        // Every expression reads the stage's input: all are computed before any is bound.
        let mut bound = Vec::new();
        for new in &self.columns {
            let column = at.output.column(&new.name).expect("checked").clone();
            let v = render_column(&new.typed, lp);
            let local = lp.fresh("v");
            let tokens = v.tokens_as(&column.ltype);
            let statement = match (&new.ty, v.held) {
                (Some(ty), Held::Owned) => quote!(let #local: #ty = #tokens;),
                _ => quote!(let #local = #tokens;),
            };
            lp.push(statement);
            bound.push((column, local, v.held));
        }
        lp.bind_locals(bound);
    }

    /// A GPU stage: its kernel, and its CPU loop beside it for workers without a device.
    fn alone(&self, at: &At, records: &mut GeneratedRecords) -> (TokenStream, TokenStream) {
        let rt = rt();
        let gpu = self.gpu.as_ref().expect("a stage alone runs on GPUs");
        let cpu_loop = crate::plan::Loop {
            input: at.input,
            stages: vec![(self as &dyn Operator, at.clone())],
        };
        let setup = cpu_loop
            .open(records)
            .finish(&at.block, at.name, at.index, records)
            .0;
        let cpu = format_ident!("__aq_stage{}", at.index);
        let output_ty = records.type_of(&at.block, None);
        let name = at.text;
        let Gpu {
            gpus,
            cpu_fallback,
            kernel,
        } = gpu;
        let cpu_fallback = match cpu_fallback {
            Some(e) => quote!((#e) as bool),
            None => quote!(true),
        };
        let (ptx, kernel_name, outputs) = (&kernel.ptx, &kernel.name, &kernel.outputs);
        let elements = kernel.elements;
        let inputs = kernel
            .inputs
            .iter()
            .map(|(name, width)| quote!((#name, #width)));
        let stage = quote! {
            #rt::Stage::Pooled {
                name: #name.into(),
                batch_size: ::std::option::Option::None,
                spec: #rt::gpu_columns_pool(
                    #rt::ColumnsKernel {
                        ptx: #ptx,
                        name: #kernel_name,
                        inputs: &[#(#inputs),*],
                        outputs: &[#(#outputs),*],
                        elements: #elements,
                        schema: <#output_ty as #rt::Record>::schema(),
                    },
                    ::std::sync::Arc::new(#cpu),
                    (#gpus) as f64,
                    #cpu_fallback,
                ),
            }
        };
        (setup, stage)
    }
}
