//! The operators of the DSL, one file each. A stage operator's file holds all of it: its
//! argument rules, its check (input schema → its `plan::Operator` value and output schema), what
//! kind of stage it is, the columns it needs, and its lowering to Rust tokens. [`STAGES`] is
//! the registry: one line per operator. Adding an operator = one file + one line there.
//! Sources and sinks (which start and end a pipeline) are in `source.rs` and `sink.rs`;
//! `sequence.rs` checks a whole pipeline, stage after stage.

mod aggregate;
mod closure;
mod columns;
mod filter;
mod limit;
mod map;
mod map_batches;
mod map_groups;
mod random;
mod repartition;
mod sequence;
pub mod sink;
mod sort;
pub mod source;
mod with_column;
mod zip;

pub use closure::referenced_records;
pub use sequence::check_pipeline;

use crate::ctxt::{Ctxt, did_you_mean};
use crate::plan::{At, Exchange, Operator};
use crate::schema::{Records, Schema};
use crate::syntax::{Arg, Call};

/// A stage operator, as the registry knows it.
pub struct Spec {
    pub name: &'static str,
    /// Whether it takes type arguments (`map::<Out>(f)`): the record it produces or reads.
    pub type_args: bool,
    pub check: Check,
}

/// Check a stage against its input schema: the operator and its output schema. The keys are
/// those of a `groupby` just before it (`None` without one).
pub type Check = fn(&Checker, &Call, &Schema, Option<Vec<String>>) -> Checked;

/// A checked stage: its operator and output schema, or `None` after reporting its errors.
pub type Checked = Option<(Box<dyn Operator>, Schema)>;

/// The stage operators.
pub const STAGES: &[Spec] = &[
    filter::SPEC,
    with_column::SPEC,
    with_column::SPEC_MANY,
    columns::SELECT,
    columns::DROP,
    columns::RENAME,
    map::SPEC,
    map::SPEC_FLAT,
    map_batches::SPEC,
    limit::SPEC,
    aggregate::SPEC,
    map_groups::SPEC,
    aggregate::SPEC_UNIQUE,
    sort::SPEC,
    random::SPEC_SHUFFLE,
    random::SPEC_BLOCK_ORDER,
    repartition::SPEC,
    zip::SPEC,
];

/// `groupby(keys)` is no stage of its own: it says how the next one groups.
pub const GROUPBY: &str = "groupby";

/// Every name a stage may have, in the order messages list them.
pub fn stage_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
    let at = names.iter().position(|n| *n == "aggregate").unwrap_or(0);
    names.insert(at, GROUPBY);
    names
}

/// The names of the sources.
pub const SOURCES: &[&str] = source::NAMES;
/// The names of the sinks, which may end a pipeline.
pub const SINKS: &[&str] = sink::NAMES;

/// What checks see.
pub struct Checker<'a> {
    pub cx: &'a Ctxt,
    pub records: &'a Records,
}

/// The registry's entry for stage `name`.
pub fn spec(name: &str) -> Option<&'static Spec> {
    STAGES.iter().find(|s| s.name == name)
}

/// Report an unknown operator name at its token, suggesting a close one.
pub fn unknown_stage(cx: &Ctxt, call: &Call, known: &[&str], what: &str) {
    let name = call.name.to_string();
    let all = SOURCES
        .iter()
        .copied()
        .chain(stage_names())
        .chain(SINKS.iter().copied());
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
    if !call.generics.is_empty() && !spec(&op.to_string()).is_some_and(|s| s.type_args) {
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

/// A row exchange (sort, shuffles, repartition, map_groups) running `op`, a runtime `RowOp`.
fn row_exchange(at: &At, op: proc_macro2::TokenStream) -> Exchange {
    let rt = crate::tokens::rt();
    let name = at.text;
    Exchange::Exchange(quote::quote!(#rt::RowExchange::new(#name, #op)))
}
