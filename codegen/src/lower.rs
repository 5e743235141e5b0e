//! Lowering: the checked, optimised plan as Rust tokens building the runtime's `Plan`. The
//! segments `fusion` makes are lowered here, each by its operators (`plan::Operator`) through
//! `emit`'s machinery; this file only strings them together.

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit::GeneratedRecords;
use crate::explain;
use crate::ops::{sink, source};
use crate::optimize::fusion::{self, Segment};
use crate::plan::{Exchange, Kind, Loop, Plan};
use crate::tokens::rt;

/// The expression a pipeline expands to. A pipeline with all-to-all operators becomes a
/// chain of runtime plans: each operator reads the plan of the stages before it and is the
/// source of the stages after it.
pub fn pipeline(plan: &Plan) -> TokenStream {
    let segments = fusion::run(plan);
    let mut records = GeneratedRecords::default();
    let mut prelude = Vec::new();
    let rt = rt();
    let mut source = source::lower(&plan.source);
    // The current plan's stages: (setup, stage).
    let mut stages: Vec<(TokenStream, TokenStream)> = Vec::new();
    for segment in &segments {
        match *segment {
            Segment::Fused { start, end } => stages.push(fused(plan, start, end, &mut records)),
            Segment::Single(index) if plan.stages[index].op.kind() == Kind::Alone => {
                let at = plan.at(index, explain::segment_name(plan, segment));
                stages.push(plan.stages[index].op.alone(&at, &mut records));
            }
            Segment::Single(start @ index) | Segment::Aggregate { start, index } => {
                let at = plan.at(index, explain::segment_name(plan, segment));
                let feed = plan.fused(start, index);
                let (setup, exchange) = plan.stages[index].op.exchange(&at, feed, &mut records);
                let input_ty = records.type_of(&plan.block(start), None);
                let (setups, tokens): (Vec<_>, Vec<_>) = stages.drain(..).unzip();
                prelude.extend(setups);
                prelude.push(setup);
                let input = quote! {
                    #rt::Plan {
                        source: #source,
                        stages: ::std::vec![#(#tokens),*],
                        schema: <#input_ty as #rt::Record>::schema(),
                        logical: ::std::string::String::new(),
                        physical: ::std::string::String::new(),
                    }
                };
                source = match exchange {
                    Exchange::Exchange(exchange) => quote! {
                        ::std::sync::Arc::new(#rt::ExchangeSource::new(#input, #exchange))
                    },
                    Exchange::Source(make) => make(input),
                };
            }
        }
    }
    let (setups, stages): (Vec<_>, Vec<_>) = stages.into_iter().unzip();
    prelude.extend(setups);
    let output = records.type_of(plan.output(), None);
    let logical = explain::logical(plan);
    let physical = explain::physical(plan, &segments);
    let definitions = records.definitions();
    let dataset = quote! {
        ::aqueduct::Dataset::<#output>::from_plan(#rt::Plan {
            source: #source,
            stages: ::std::vec![#(#stages),*],
            schema: <#output as #rt::Record>::schema(),
            logical: ::std::string::String::from(#logical),
            physical: ::std::string::String::from(#physical),
        })
    };
    let value = match &plan.sink {
        Some(sink) => sink::lower(sink, dataset),
        None => dataset,
    };
    quote! {{
        #definitions
        #(#prelude)*
        #value
    }}
}

/// Row-wise stages `start..end` as one loop per block: (setup statements, a runtime `Stage`).
fn fused(
    plan: &Plan,
    start: usize,
    end: usize,
    records: &mut GeneratedRecords,
) -> (TokenStream, TokenStream) {
    let names: Vec<&str> = plan.stages[start..end].iter().map(|n| n.name).collect();
    let name = if names.len() == 1 {
        names[0].to_owned()
    } else {
        format!("fused[{}]", names.join(" → "))
    };
    let feed: Loop = plan.fused(start, end);
    // The block carries only the columns a later stage reads (see `Plan::block`).
    feed.open(records)
        .finish(&plan.block(end), &name, start, records)
}
