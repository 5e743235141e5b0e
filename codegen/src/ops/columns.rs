//! `select(a, b)`, `drop(a)` and `rename(old = new)`: reshape the columns, at no cost per row.

use super::{Checker, check_named, column_name};
use crate::plan::NodeKind;
use crate::schema::Schema;
use crate::syntax::{Arg, Call};

fn names(ck: &Checker, call: &Call, input: &Schema) -> Option<Vec<String>> {
    if !check_named(ck.cx, call, &[]) {
        return None;
    }
    if call.args.is_empty() {
        ck.cx.error_at(
            call.paren_span,
            format!("`{}` needs at least one column", call.name),
        );
        return None;
    }
    let names: Vec<Option<String>> = call
        .positional()
        .map(|e| column_name(ck.cx, e, input))
        .collect();
    names.into_iter().collect()
}

pub fn check_select(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    let names = names(ck, call, input)?;
    let columns = names
        .iter()
        .filter_map(|n| input.column(n).cloned())
        .collect();
    Some((
        NodeKind::Select(names),
        Schema {
            record: None,
            columns,
        },
    ))
}

pub fn check_drop(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    let names = names(ck, call, input)?;
    let columns: Vec<_> = input
        .columns
        .iter()
        .filter(|c| !names.contains(&c.name))
        .cloned()
        .collect();
    if columns.is_empty() {
        ck.cx.error_spanned_by(call, "`drop` would leave no column");
        return None;
    }
    Some((
        NodeKind::Drop(names),
        Schema {
            record: None,
            columns,
        },
    ))
}

pub fn check_rename(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    let mut pairs = Vec::new();
    let mut ok = true;
    for arg in &call.args {
        match arg {
            Arg::Named {
                name,
                ty: None,
                value,
            } => {
                let from = name.to_string();
                if input.column(&from).is_none() {
                    let hint = crate::ctxt::did_you_mean(&from, input.names())
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    ck.cx.error_spanned_by(
                        name,
                        format!("no column `{from}` in {}{hint}", input.describe()),
                    );
                    ok = false;
                    continue;
                }
                match value {
                    syn::Expr::Path(p) if p.path.get_ident().is_some() => {
                        pairs.push((from, p.path.get_ident().expect("checked").to_string()));
                    }
                    other => {
                        ck.cx
                            .error_spanned_by(other, "expected the new column name");
                        ok = false;
                    }
                }
            }
            other => {
                ck.cx
                    .error_spanned_by(other.tokens(), "`rename` takes `old = new` pairs");
                ok = false;
            }
        }
    }
    if pairs.is_empty() && ok {
        ck.cx.error_at(
            call.paren_span,
            "`rename` needs at least one `old = new` pair",
        );
        return None;
    }
    if !ok {
        return None;
    }
    let mut columns = input.columns.clone();
    for (from, to) in &pairs {
        if columns.iter().any(|c| &c.name == to) && from != to {
            ck.cx.error_spanned_by(
                call,
                format!("cannot rename `{from}` to `{to}`: a column `{to}` exists"),
            );
            return None;
        }
        if let Some(c) = columns.iter_mut().find(|c| &c.name == from) {
            c.name = to.clone();
        }
    }
    Some((
        NodeKind::Rename(pairs),
        Schema {
            record: None,
            columns,
        },
    ))
}
