//! Predicate pushdown: comparisons of a source column with a literal, found in the `filter`
//! stages that run before anything changes those columns, go to the parquet reader, which
//! skips row groups whose statistics rule them out. The filters still run; this only saves
//! reading.

use syn::{BinOp, Expr, Lit};

use crate::plan::{Comparison, Effect, Plan, Pushed, Scalar, SourceKind};
use crate::types::LType;

/// Collect the pushable predicates into `plan.source.predicates`. Returns whether any was found.
pub fn run(plan: &mut Plan) -> bool {
    if plan.source.kind != SourceKind::Parquet {
        return false;
    }
    let mut changed: Vec<String> = Vec::new();
    let mut found = Vec::new();
    for node in &plan.stages {
        match node.op.effect() {
            Effect::Selects(predicate) => {
                if let Some(expr) = predicate {
                    conjuncts(expr, &mut |e| {
                        if let Some(p) = comparison(e, &plan.schemas[0], &changed) {
                            found.push(p);
                        }
                    })
                }
            }
            Effect::Computes(columns) => changed.extend(columns.into_iter().map(str::to_owned)),
            // Anything else may change rows or columns: stop looking.
            Effect::Renames(_) | Effect::Opaque => break,
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
    let op = |flip: bool| -> Option<Comparison> {
        Some(match (&b.op, flip) {
            (BinOp::Lt(_), false) | (BinOp::Gt(_), true) => Comparison::Lt,
            (BinOp::Le(_), false) | (BinOp::Ge(_), true) => Comparison::Le,
            (BinOp::Gt(_), false) | (BinOp::Lt(_), true) => Comparison::Gt,
            (BinOp::Ge(_), false) | (BinOp::Le(_), true) => Comparison::Ge,
            (BinOp::Eq(_), _) => Comparison::Eq,
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
    Some(Pushed { column, op, value })
}

fn column_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
        Expr::Paren(p) => column_of(&p.expr),
        _ => None,
    }
}

/// The literal as a scalar, when it suits the column's type.
fn scalar(expr: &Expr, ltype: &LType) -> Option<Scalar> {
    let (negative, lit) = match expr {
        Expr::Lit(l) => (false, &l.lit),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match &*u.expr {
            Expr::Lit(l) => (true, &l.lit),
            _ => return None,
        },
        _ => return None,
    };
    let sign = if negative { -1.0 } else { 1.0 };
    Some(match (lit, ltype) {
        (Lit::Int(i), LType::Int(_)) => {
            let v: i64 = i.base10_parse().ok()?;
            Scalar::Int(if negative { -v } else { v })
        }
        (Lit::Int(i), LType::Float(_)) => Scalar::Float(sign * i.base10_parse::<f64>().ok()?),
        (Lit::Float(f), LType::Float(_)) => Scalar::Float(sign * f.base10_parse::<f64>().ok()?),
        (Lit::Str(s), LType::Str) if !negative => Scalar::Str(s.value()),
        (Lit::Bool(b), LType::Bool) if !negative => Scalar::Bool(b.value),
        _ => return None,
    })
}
