//! What the compiler reads off user closures and type arguments: the records they take and
//! return, so schemas can flow through closure stages.

use quote::ToTokens;
use syn::{Expr, Path, Type};

use super::Checker;
use crate::schema::{Schema, path_text};
use crate::syntax::{Arg, Pipeline};

/// Names of types that are never records.
const NOT_RECORDS: &[&str] = &["RecordBatch", "String", "bool", "Self", "_"];

/// The record a type names, looking through `&`, `Vec<..>`, `Option<..>` and `Result<.., _>`.
pub fn record_path(ty: &Type) -> Option<Path> {
    match ty {
        Type::Reference(r) => record_path(&r.elem),
        Type::Paren(p) => record_path(&p.elem),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            if matches!(name.as_str(), "Vec" | "Option" | "Result" | "Box") {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments
                    && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
                {
                    return record_path(inner);
                }
                return None;
            }
            let primitive = name.chars().next().is_some_and(|c| c.is_lowercase());
            (!NOT_RECORDS.contains(&name.as_str()) && !primitive).then(|| p.path.clone())
        }
        _ => None,
    }
}

/// The closure's single parameter type, if annotated.
pub fn param_type(func: &Expr) -> Option<&Type> {
    match func {
        Expr::Closure(c) => match c.inputs.first() {
            Some(syn::Pat::Type(t)) => Some(&t.ty),
            _ => None,
        },
        _ => None,
    }
}

/// The closure's return type, if annotated.
pub fn return_type(func: &Expr) -> Option<&Type> {
    match func {
        Expr::Closure(c) => match &c.output {
            syn::ReturnType::Type(_, ty) => Some(ty),
            syn::ReturnType::Default => None,
        },
        _ => None,
    }
}

/// Every record a pipeline names, in order of appearance, without repeats: the ones whose
/// schemas `pipeline!` must collect before it can check anything.
pub fn referenced_records(pipeline: &Pipeline) -> Vec<Path> {
    let mut found: Vec<Path> = Vec::new();
    let mut add = |path: Option<Path>| {
        if let Some(path) = path
            && !found.iter().any(|p| path_text(p) == path_text(&path))
        {
            found.push(path);
        }
    };
    for call in &pipeline.stages {
        for ty in &call.generics {
            add(record_path(ty));
        }
        for arg in &call.args {
            if let Arg::Positional(func) = arg {
                add(param_type(func).and_then(record_path));
                add(return_type(func).and_then(record_path));
            }
        }
    }
    found
}

/// The record a closure stage takes: the input's own record when it is one; else the record
/// the closure's parameter names, after checking it has the input's columns. `Ok(None)` means
/// a record will be generated for the input's columns.
pub fn input_record(
    ck: &Checker,
    op: &str,
    func: &Expr,
    input: &Schema,
) -> Result<Option<Path>, ()> {
    let Some(declared) = param_type(func).and_then(record_path) else {
        return Ok(input.record.clone());
    };
    let Some(schema) = ck.records.schema(&declared) else {
        return Err(());
    };
    if schema.same_columns(input) {
        return Ok(Some(input.record.clone().unwrap_or(declared)));
    }
    let missing: Vec<&str> = input
        .names()
        .filter(|n| schema.column(n).is_none())
        .collect();
    let extra: Vec<&str> = schema
        .names()
        .filter(|n| input.column(n).is_none())
        .collect();
    let differ: Vec<String> = schema
        .columns
        .iter()
        .filter_map(|c| {
            let other = input.column(&c.name)?;
            (other.ltype != c.ltype).then(|| {
                format!(
                    "`{}` is `{}` here but `{}` in `{}`",
                    c.name,
                    other.ltype,
                    c.ltype,
                    path_text(&declared)
                )
            })
        })
        .collect();
    let mut reasons = Vec::new();
    if !extra.is_empty() {
        reasons.push(format!("no column(s) {} in the input", quoted(&extra)));
    }
    if !missing.is_empty() {
        reasons.push(format!(
            "`{}` lacks column(s) {}",
            path_text(&declared),
            quoted(&missing)
        ));
    }
    reasons.extend(differ);
    ck.cx.error_spanned_by(
        param_type(func).expect("checked").to_token_stream(),
        format!(
            "`{op}` receives rows of {} but this closure takes `{}`: {}",
            input.describe(),
            path_text(&declared),
            reasons.join("; ")
        ),
    );
    Err(())
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
