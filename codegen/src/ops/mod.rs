//! The operators of the DSL, one file each: their argument rules and their checks. Adding an
//! operator means one file here, one line in [`STAGES`] (or [`SOURCES`] / [`SINKS`]) and one
//! arm in [`check_stage`]; row-wise operators also get an arm in `emit::row_loop`.

mod aggregate;
mod closure;
mod columns;
mod filter;
mod limit;
mod map;
mod map_batches;
mod rows;
pub mod sink;
pub mod source;
mod with_column;

pub use aggregate::builtin_path;
pub use closure::referenced_records;

use crate::ctxt::{Ctxt, did_you_mean};
use crate::plan::Node;
use crate::schema::{Records, Schema};
use crate::syntax::{Arg, Call};

/// The names of the sources.
pub const SOURCES: &[&str] = &[
    "read_parquet",
    "read_csv",
    "read_json",
    "read_text",
    "from_items",
    "from_arrow",
    "read_images",
    "read_binary_files",
];
/// The names of the stages.
pub const STAGES: &[&str] = &[
    "filter",
    "with_column",
    "with_columns",
    "select",
    "drop",
    "rename",
    "map",
    "flat_map",
    "map_batches",
    "limit",
    "groupby",
    "aggregate",
    "map_groups",
    "unique",
    "sort",
    "random_shuffle",
    "randomize_block_order",
    "repartition",
    "zip",
];
/// The names of the sinks, which may end a pipeline.
pub const SINKS: &[&str] = &["write_parquet", "write_csv", "write_json"];

/// What checks see.
pub struct Checker<'a> {
    pub cx: &'a Ctxt,
    pub records: &'a Records,
}

/// Check `groupby(keys)`, which only says how the next stage groups.
pub fn check_groupby(ck: &Checker, call: &Call, input: &Schema) -> Option<Vec<String>> {
    aggregate::check_keys(ck, call, input)
}

/// Check one stage against its input schema: the node and its output schema. `keys` are the
/// columns of a `groupby` just before it.
pub fn check_stage(
    ck: &Checker,
    call: &Call,
    input: &Schema,
    keys: Option<Vec<String>>,
) -> Option<(Node, Schema)> {
    let name = call.name.to_string();
    let checked = match name.as_str() {
        "aggregate" => aggregate::check(ck, call, input, keys.unwrap_or_default()),
        "map_groups" => match keys {
            Some(keys) => rows::check_map_groups(ck, call, input, keys),
            None => {
                ck.cx
                    .error_spanned_by(&call.name, "`map_groups` needs a `groupby(...)` before it");
                None
            }
        },
        "unique" => aggregate::check_unique(ck, call, input),
        "sort" => rows::check_sort(ck, call, input),
        "random_shuffle" | "randomize_block_order" => rows::check_seeded(ck, call, input),
        "repartition" => rows::check_repartition(ck, call, input),
        "zip" => rows::check_zip(ck, call, input),
        "filter" => filter::check(ck, call, input),
        "with_column" | "with_columns" => with_column::check(ck, call, input),
        "select" => columns::check_select(ck, call, input),
        "drop" => columns::check_drop(ck, call, input),
        "rename" => columns::check_rename(ck, call, input),
        "map" => map::check(ck, call, input, false),
        "flat_map" => map::check(ck, call, input, true),
        "map_batches" => map_batches::check(ck, call, input),
        "limit" => limit::check(ck, call, input),
        _ => {
            unknown_stage(ck.cx, call, STAGES, "stage");
            return None;
        }
    }?;
    let (kind, schema) = checked;
    let node = Node {
        name: STAGES
            .iter()
            .find(|s| **s == name)
            .expect("dispatched above"),
        text: crate::plan::compact(quote::quote!(#call)),
        kind,
    };
    Some((node, schema))
}

/// Report an unknown operator name at its token, suggesting a close one.
pub fn unknown_stage(cx: &Ctxt, call: &Call, known: &[&str], what: &str) {
    let name = call.name.to_string();
    let all = SOURCES.iter().chain(STAGES).chain(SINKS).copied();
    let hint = match did_you_mean(&name, known.iter().copied()) {
        Some(close) => format!("; did you mean `{close}`?"),
        None if SOURCES.contains(&name.as_str()) => {
            "; a source can only start a pipeline".to_owned()
        }
        None if SINKS.contains(&name.as_str()) => "; a sink can only end a pipeline".to_owned(),
        None if all.clone().any(|k| k == name) => String::new(),
        None => format!("; expected one of: {}", known.join(", ")),
    };
    cx.error_spanned_by(&call.name, format!("unknown {what} `{name}`{hint}"));
}

/// Check the argument list: the positional arguments `positional` names (all required), and
/// named arguments among `named`. Reports each problem at its token; `false` if any.
pub fn check_args(cx: &Ctxt, call: &Call, positional: &[&str], named: &[&str]) -> bool {
    let mut ok = check_named(cx, call, named);
    let given = call.positional().count();
    let op = &call.name;
    if given < positional.len() {
        let missing: Vec<String> = positional[given..]
            .iter()
            .map(|p| format!("`{p}`"))
            .collect();
        cx.error_at(
            call.paren_span,
            format!(
                "`{op}` is missing its argument {}: `{op}({})`",
                missing.join(", "),
                positional.join(", ")
            ),
        );
        ok = false;
    }
    for extra in call.positional().skip(positional.len()) {
        cx.error_spanned_by(
            extra,
            format!(
                "`{op}` takes {} positional argument(s): `{op}({})`",
                positional.len(),
                positional.join(", ")
            ),
        );
        ok = false;
    }
    ok
}

/// Check that named arguments are among `named` and that only closure stages take type
/// arguments. Reports each problem at its token; `false` if any.
pub fn check_named(cx: &Ctxt, call: &Call, named: &[&str]) -> bool {
    let mut ok = true;
    let op = &call.name;
    for arg in &call.args {
        if let Arg::Named { name, ty, .. } = arg {
            let text = name.to_string();
            if !named.contains(&text.as_str()) {
                let hint = match did_you_mean(&text, named.iter().copied()) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None if named.is_empty() => format!("; `{op}` takes no named arguments"),
                    None => format!("; expected one of: {}", named.join(", ")),
                };
                cx.error_spanned_by(name, format!("unknown argument `{text}` for `{op}`{hint}"));
                ok = false;
            } else if let Some(ty) = ty {
                cx.error_spanned_by(ty, format!("argument `{text}` takes no type"));
                ok = false;
            }
        }
    }
    if !call.generics.is_empty()
        && !matches!(
            op.to_string().as_str(),
            "map" | "flat_map" | "map_batches" | "map_groups" | "aggregate" | "zip"
        )
    {
        cx.error_spanned_by(
            &call.generics_tokens,
            format!("`{op}` takes no type arguments"),
        );
        ok = false;
    }
    ok
}

/// The column name a positional argument names (a bare identifier), or an error.
pub fn column_name(cx: &Ctxt, expr: &syn::Expr, input: &Schema) -> Option<String> {
    let ident = match expr {
        syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    };
    let Some(ident) = ident else {
        cx.error_spanned_by(expr, "expected a column name");
        return None;
    };
    let name = ident.to_string();
    if input.column(&name).is_none() {
        let hint = match cx.gone(&name) {
            Some(why) => format!(": {why}"),
            None => did_you_mean(&name, input.names())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default(),
        };
        cx.error_spanned_by(
            ident,
            format!("no column `{name}` in {}{hint}", input.describe()),
        );
        return None;
    }
    Some(name)
}
