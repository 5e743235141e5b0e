//! All-to-all operators over whole rows: `sort(a, desc(b), nulls_first = true)`,
//! `random_shuffle(seed = 7)`, `randomize_block_order(seed = 7)`, `repartition(n)`, and
//! `groupby(keys) |> map_groups(f)`, and `zip::<R>(other)`.

use super::{Checker, check_args, column_name};
use crate::plan::{NodeKind, RowsOp};
use crate::schema::Schema;
use crate::syntax::Call;

pub fn check_sort(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    if !super::check_named(ck.cx, call, &["nulls_first"]) {
        return None;
    }
    let nulls_first = match call.named("nulls_first") {
        None => false,
        Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Bool(b),
            ..
        })) => b.value,
        Some(other) => {
            ck.cx
                .error_spanned_by(other, "`nulls_first` takes `true` or `false`");
            return None;
        }
    };
    let mut keys = Vec::new();
    let mut ok = true;
    for expr in call.positional() {
        let (column, descending) = match expr {
            syn::Expr::Call(c)
                if c.args.len() == 1
                    && matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("desc") || p.path.is_ident("asc")) =>
            {
                let desc = matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("desc"));
                (&c.args[0], desc)
            }
            other => (other, false),
        };
        match column_name(ck.cx, column, input) {
            Some(name) => keys.push((name, descending, nulls_first)),
            None => ok = false,
        }
    }
    if keys.is_empty() && ok {
        ck.cx.error_at(
            call.paren_span,
            "`sort` needs at least one column: `sort(price)` or `sort(desc(price), id)`",
        );
        return None;
    }
    ok.then(|| (NodeKind::Rows(RowsOp::Sort(keys)), input.clone()))
}

/// `random_shuffle(seed = n)` and `randomize_block_order(seed = n)`; without a seed, each run
/// draws one.
pub fn check_seeded(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    if !check_args(ck.cx, call, &[], &["seed"]) {
        return None;
    }
    let seed = call
        .named("seed")
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(::aqueduct::__private::random_seed()));
    let op = if call.name == "random_shuffle" {
        RowsOp::RandomShuffle(seed)
    } else {
        RowsOp::RandomizeBlockOrder(seed)
    };
    Some((NodeKind::Rows(op), input.clone()))
}

pub fn check_repartition(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    if !check_args(ck.cx, call, &["n"], &[]) {
        return None;
    }
    let n = call.positional().next()?.clone();
    Some((NodeKind::Rows(RowsOp::Repartition(n)), input.clone()))
}

/// `map_groups(f)` after `groupby(keys)`: `f` takes one whole group (a `RecordBatch` or
/// `Vec<Record>`) and returns rows, as `map_batches` functions do.
pub fn check_map_groups(
    ck: &Checker,
    call: &Call,
    input: &Schema,
    keys: Vec<String>,
) -> Option<(NodeKind, Schema)> {
    if !check_args(ck.cx, call, &["f"], &[]) {
        return None;
    }
    let (func, record, output) = super::map_batches::batch_function(ck, call, input)?;
    Some((
        NodeKind::MapGroups {
            keys,
            func: func.clone(),
            input: record,
        },
        output,
    ))
}

/// `zip::<R>(other)`: `other` is a `Dataset<R>`; its columns join these, row by row. Column
/// names must not collide.
pub fn check_zip(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    if !check_args(ck.cx, call, &["other"], &[]) {
        return None;
    }
    let [ty] = call.generics.as_slice() else {
        ck.cx.error_spanned_by(
            &call.name,
            "`zip` needs the other dataset's record: `zip::<Features>(features)`",
        );
        return None;
    };
    let record = super::closure::record_path(ty)?;
    let other = ck.records.schema(&record)?;
    let collisions: Vec<String> = other
        .columns
        .iter()
        .filter(|c| input.column(&c.name).is_some())
        .map(|c| format!("`{}`", c.name))
        .collect();
    if !collisions.is_empty() {
        ck.cx.error_spanned_by(
            ty,
            format!(
                "cannot zip {} with `{}`: both have column(s) {}; rename them on one side first",
                input.describe(),
                crate::schema::path_text(&record),
                collisions.join(", ")
            ),
        );
        return None;
    }
    let mut columns = input.columns.clone();
    columns.extend(other.columns);
    Some((
        NodeKind::Zip {
            other: call.positional().next()?.clone(),
            record,
        },
        Schema {
            record: None,
            columns,
        },
    ))
}
