//! Predicate pushdown: comparisons of a source column with a literal, found in the `filter`
//! stages that run before anything changes those columns, go to the parquet reader, which
//! skips row groups whose statistics rule them out. The filters still run; this only saves
//! reading.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{BinOp, Expr, Lit};

use crate::plan::{NodeKind, Plan, SourceKind};
use crate::types::LType;

/// A predicate for the reader, as tokens building a runtime `Predicate`.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub tokens: TokenStream,
}

/// Collect the pushable predicates into `plan.source.predicates`. Returns whether any was found.
pub fn run(plan: &mut Plan) -> bool {
    if plan.source.kind != SourceKind::Parquet {
        return false;
    }
    let mut changed: Vec<String> = Vec::new();
    let mut found = Vec::new();
    for node in &plan.stages {
        match &node.kind {
            NodeKind::Filter(expr) => conjuncts(expr, &mut |e| {
                if let Some(p) = comparison(e, &plan.schemas[0], &changed) {
                    found.push(p);
                }
            }),
            NodeKind::Select(_) | NodeKind::Drop(_) => {}
            NodeKind::WithColumns { columns, .. } => {
                changed.extend(columns.iter().map(|c| c.name.clone()))
            }
            // Anything else may change rows or columns: stop looking.
            _ => break,
        }
    }
    let any = !found.is_empty();
    plan.source.predicates = found;
    any
}

fn conjuncts(expr: &Expr, each: &mut dyn FnMut(&Expr)) {
    match expr {
        Expr::Binary(b) if matches!(b.op, BinOp::And(_)) => {
            conjuncts(&b.left, each);
            conjuncts(&b.right, each);
        }
        Expr::Paren(p) => conjuncts(&p.expr, each),
        other => each(other),
    }
}

/// `column op literal` or `literal op column` on a source column nothing has replaced.
fn comparison(expr: &Expr, source: &crate::schema::Schema, changed: &[String]) -> Option<Pushed> {
    let Expr::Binary(b) = expr else { return None };
    let rt = quote!(::aqueduct::__private);
    let op = |flip: bool| -> Option<TokenStream> {
        Some(match (&b.op, flip) {
            (BinOp::Lt(_), false) | (BinOp::Gt(_), true) => quote!(#rt::CmpOp::Lt),
            (BinOp::Le(_), false) | (BinOp::Ge(_), true) => quote!(#rt::CmpOp::Le),
            (BinOp::Gt(_), false) | (BinOp::Lt(_), true) => quote!(#rt::CmpOp::Gt),
            (BinOp::Ge(_), false) | (BinOp::Le(_), true) => quote!(#rt::CmpOp::Ge),
            (BinOp::Eq(_), _) => quote!(#rt::CmpOp::Eq),
            _ => return None,
        })
    };
    let (column, literal, op) = match (column_of(&b.left), column_of(&b.right)) {
        (Some(c), None) => (c, &*b.right, op(false)?),
        (None, Some(c)) => (c, &*b.left, op(true)?),
        _ => return None,
    };
    if changed.contains(&column) {
        return None;
    }
    let ltype = match &source.column(&column)?.ltype {
        LType::Nullable(inner) => (**inner).clone(),
        other => other.clone(),
    };
    let value = scalar(literal, &ltype)?;
    Some(Pushed {
        tokens: quote!(#rt::Predicate::new(#column, #op, #value)),
    })
}

fn column_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
        Expr::Paren(p) => column_of(&p.expr),
        _ => None,
    }
}

/// The literal as a runtime scalar, when it suits the column's type.
fn scalar(expr: &Expr, ltype: &LType) -> Option<TokenStream> {
    let rt = quote!(::aqueduct::__private);
    let (negative, lit) = match expr {
        Expr::Lit(l) => (false, &l.lit),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match &*u.expr {
            Expr::Lit(l) => (true, &l.lit),
            _ => return None,
        },
        _ => return None,
    };
    let sign = if negative { quote!(-) } else { quote!() };
    Some(match (lit, ltype) {
        (Lit::Int(i), LType::Int(_)) => {
            let v: i64 = i.base10_parse().ok()?;
            quote!(#rt::Scalar::Int(#sign #v))
        }
        (Lit::Int(i), LType::Float(_)) => {
            let v: f64 = i.base10_parse().ok()?;
            quote!(#rt::Scalar::Float(#sign #v))
        }
        (Lit::Float(f), LType::Float(_)) => {
            let v: f64 = f.base10_parse().ok()?;
            quote!(#rt::Scalar::Float(#sign #v))
        }
        (Lit::Str(s), LType::Str) if !negative => {
            let v = s.value();
            quote!(#rt::Scalar::Str(::std::string::String::from(#v)))
        }
        (Lit::Bool(b), LType::Bool) if !negative => {
            let v = b.value;
            quote!(#rt::Scalar::Bool(#v))
        }
        _ => return None,
    })
}
