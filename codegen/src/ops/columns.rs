//! `select(a, b)`, `drop(a)` and `rename(old = new)`: reshape the columns, at no cost per row.

use std::collections::BTreeSet;

use super::{Checked, Checker, Spec, check_named, column_name};
use crate::emit::{GeneratedRecords, RowLoop};
use crate::plan::{At, Effect, Kind, Operator};
use crate::schema::Schema;
use crate::syntax::{Arg, Call};

pub const SELECT: Spec = Spec {
    name: "select",
    type_args: false,
    check: check_select,
};
pub const DROP: Spec = Spec {
    name: "drop",
    type_args: false,
    check: check_drop,
};
pub const RENAME: Spec = Spec {
    name: "rename",
    type_args: false,
    check: check_rename,
};

/// Columns kept or removed, by name.
enum Pick {
    /// Keep these columns, in this order.
    Select(Vec<String>),
    /// Remove these columns.
    Drop(Vec<String>),
}
/// Rename `from` to `to`.
struct Rename(Vec<(String, String)>);

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

fn check_select(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
    let names = names(ck, call, input)?;
    let columns = names
        .iter()
        .filter_map(|n| input.column(n).cloned())
        .collect();
    Some((
        Box::new(Pick::Select(names)),
        Schema {
            record: None,
            columns,
        },
    ))
}

fn check_drop(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
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
        Box::new(Pick::Drop(names)),
        Schema {
            record: None,
            columns,
        },
    ))
}

fn check_rename(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
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
        Box::new(Rename(pairs)),
        Schema {
            record: None,
            columns,
        },
    ))
}

impl Operator for Pick {
    fn kind(&self) -> Kind {
        Kind::RowWise
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        live.clone()
    }

    fn effect(&self) -> Effect<'_> {
        Effect::Selects(None)
    }

    fn fuse(&self, lp: &mut RowLoop, _: &At, _: &mut GeneratedRecords) {
        match self {
            Pick::Select(names) => lp.select(names),
            Pick::Drop(names) => lp.drop_columns(names),
        }
    }
}

impl Operator for Rename {
    fn kind(&self) -> Kind {
        Kind::RowWise
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        let mut needed = live.clone();
        // Backwards, like the walk: `rename(a = b, x = a)` needs `x` for a later `a`.
        for (from, to) in self.0.iter().rev() {
            if needed.remove(to) {
                needed.insert(from.clone());
            }
        }
        needed
    }

    fn effect(&self) -> Effect<'_> {
        Effect::Renames(&self.0)
    }

    fn fuse(&self, lp: &mut RowLoop, _: &At, _: &mut GeneratedRecords) {
        lp.rename(&self.0);
    }
}
