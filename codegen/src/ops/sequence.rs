//! A pipeline checked stage after stage: a source first, a sink only last, `groupby` only
//! before the stage it configures; each stage against the schema the one before it leaves.

use quote::quote;

use super::{Checker, GROUPBY, aggregate, sink, source, spec, stage_names, unknown_stage};
use crate::ctxt::Ctxt;
use crate::plan::{Effect, Node, Plan};
use crate::schema::{Records, Schema};
use crate::syntax::{Call, Pipeline};
use crate::tokens::compact;

/// Build the checked plan, reporting every error found.
pub fn check_pipeline(
    cx: &Ctxt,
    pipeline: &Pipeline,
    records: &Records,
    fusion: bool,
) -> Option<Plan> {
    let ck = Checker { cx, records };
    let (first, rest) = pipeline
        .stages
        .split_first()
        .expect("a pipeline has a source");
    let (source, schema) = source::check(&ck, first)?;
    let mut schemas = vec![schema];
    let mut stages = Vec::new();
    let mut sink = None;
    // A `groupby` waiting for the `aggregate` or `map_groups` it configures.
    let mut grouping: Option<(&Call, Option<Vec<String>>)> = None;
    for (index, call) in rest.iter().enumerate() {
        let name = call.name.to_string();
        let current = schemas.last().expect("at least the source's").clone();
        let keys = match grouping.take() {
            Some((_, keys)) if name == "aggregate" || name == "map_groups" => match keys {
                Some(keys) => Some(keys),
                // The keys were wrong (reported): skip the grouped stage.
                None => continue,
            },
            Some((groupby, _)) => {
                cx.error_spanned_by(
                    &groupby.name,
                    "`groupby` must be followed by `aggregate(...)` or `map_groups(...)`",
                );
                None
            }
            None => None,
        };
        if name == GROUPBY {
            grouping = Some((call, aggregate::check_groupby(&ck, call, &current)));
            continue;
        }
        if sink::NAMES.contains(&name.as_str()) {
            if index + 1 != rest.len() {
                cx.error_spanned_by(
                    &call.name,
                    format!("`{name}` writes the output: it must be the last stage"),
                );
            }
            sink = sink::check(&ck, call, &current);
            continue;
        }
        // After an error, later stages are still checked against the last schema known.
        let grouped = keys.clone();
        if let Some((mut node, schema)) = check_stage(&ck, call, &current, keys) {
            if let Some(keys) = grouped {
                node.text = format!("groupby({}) |> {}", keys.join(", "), node.text);
            }
            note_gone(cx, &node, &current, &schema);
            stages.push(node);
            schemas.push(schema);
        }
    }
    if let Some((groupby, _)) = grouping {
        cx.error_spanned_by(
            &groupby.name,
            "`groupby` must be followed by `aggregate(...)` or `map_groups(...)`",
        );
    }
    Some(Plan {
        source,
        stages,
        sink,
        schemas,
        fusion,
        live: Vec::new(),
    })
}

/// Check one stage against its input schema: the node and its output schema. `keys` are the
/// columns of a `groupby` just before it.
fn check_stage(
    ck: &Checker,
    call: &Call,
    input: &Schema,
    keys: Option<Vec<String>>,
) -> Option<(Node, Schema)> {
    let Some(spec) = spec(&call.name.to_string()) else {
        unknown_stage(ck.cx, call, &stage_names(), "stage");
        return None;
    };
    let (op, schema) = (spec.check)(ck, call, input, keys)?;
    let node = Node {
        name: spec.name,
        text: compact(quote!(#call)),
        op,
    };
    Some((node, schema))
}

/// Remember the columns `node` took away, so that a later use of one says which stage did.
fn note_gone(cx: &Ctxt, node: &Node, before: &Schema, after: &Schema) {
    for column in before.names().filter(|n| after.column(n).is_none()) {
        let renamed = match node.op.effect() {
            Effect::Renames(pairs) => pairs
                .iter()
                .find(|(from, _)| from == column)
                .map(|(_, to)| to.clone()),
            _ => None,
        };
        let why = match renamed {
            Some(to) => format!("`{}` renamed it to `{to}`", node.text),
            None => format!("`{}` removed it", node.text),
        };
        cx.note_gone(column, why);
    }
}
