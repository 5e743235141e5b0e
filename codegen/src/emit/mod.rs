//! Emission: the checked, optimised plan as Rust tokens building the runtime's `Plan`.

mod exchange;
mod records;
mod row_loop;
mod source;

pub use records::Records as GeneratedRecords;
pub use row_loop::TypeScope;

use proc_macro2::TokenStream;
use quote::quote;

use crate::explain;
use crate::optimize::fusion::{self, Segment};
use crate::plan::{NodeKind, Plan};

/// The expression a pipeline expands to. A pipeline with all-to-all operators becomes a
/// chain of runtime plans: each operator reads the plan of the stages before it and is the
/// source of the stages after it.
pub fn pipeline(plan: &Plan) -> TokenStream {
    let segments = fusion::run(plan);
    let mut records = GeneratedRecords::default();
    let mut prelude = Vec::new();
    let rt = quote!(::aqueduct::__private);
    let mut source = source::emit(plan);
    // The current plan's stages: (setup, stage).
    let mut stages: Vec<(TokenStream, TokenStream)> = Vec::new();
    for segment in &segments {
        match *segment {
            Segment::Fused { start, end } => {
                let (setup, stage) = row_loop::emit(plan, start, end, &mut records);
                stages.push((setup, stage));
            }
            Segment::Aggregate { .. } | Segment::Single(_) if segment.is_all_to_all(plan) => {
                let (setup, operator, input_end) = match *segment {
                    Segment::Aggregate { start, index } => {
                        let name = explain::segment_name(plan, segment);
                        let (setup, exchange) =
                            exchange::aggregate(plan, start, index, &name, &mut records);
                        (setup, exchange::Operator::Exchange(exchange), start)
                    }
                    Segment::Single(index) => {
                        (quote!(), exchange::rows(plan, index, &mut records), index)
                    }
                    Segment::Fused { .. } => unreachable!("not all-to-all"),
                };
                let input_ty = records.type_of(&plan.block(input_end), None);
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
                source = match operator {
                    exchange::Operator::Exchange(exchange) => quote! {
                        ::std::sync::Arc::new(#rt::ExchangeSource::new(#input, #exchange))
                    },
                    exchange::Operator::Source(make) => make(input),
                };
            }
            Segment::Single(index) => stages.push(single(plan, index, &mut records)),
            Segment::Aggregate { .. } => unreachable!("aggregates are all-to-all"),
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
        Some(sink) => {
            let method = &sink.method;
            let location_expr = &sink.location;
            let location = quote::quote_spanned!(syn::spanned::Spanned::span(&sink.location)=> #rt::location(&#location_expr));
            let rows = match &sink.rows_per_file {
                Some(rows) => quote!(((#rows) as usize).max(1)),
                None => quote!(#rt::WriteOptions::default().rows_per_file),
            };
            let bytes = match &sink.bytes_per_file {
                Some(bytes) => quote!(::std::option::Option::Some((#bytes) as usize)),
                None => quote!(::std::option::Option::None),
            };
            let partition_by = &sink.partition_by;
            let mode = match &sink.mode {
                Some(mode) => mode.clone(),
                None => quote!(#rt::WriteOptions::default().mode),
            };
            let options = quote! {
                #rt::WriteOptions {
                    rows_per_file: #rows,
                    bytes_per_file: #bytes,
                    partition_by: ::std::vec![#(::std::string::String::from(#partition_by)),*],
                    mode: #mode,
                }
            };
            quote! {
                #rt::Write::new(#dataset, #rt::WriteFormat::from_method(stringify!(#method)), #location)
                    .with_write_options(#options)
            }
        }
        None => dataset,
    };
    quote! {{
        #definitions
        #(#prelude)*
        #value
    }}
}

/// A stage that is not fused and not all-to-all: `map_batches` or `limit`.
fn single(plan: &Plan, index: usize, records: &mut GeneratedRecords) -> (TokenStream, TokenStream) {
    let rt = quote!(::aqueduct::__private);
    match &plan.stages[index].kind {
        NodeKind::MapBatches {
            func,
            batch_size,
            args,
            input,
            compute,
            resources,
        } => {
            let input_ty = records.type_of(&plan.schemas[index], input.as_ref());
            let output_ty = records.type_of(&plan.schemas[index + 1], None);
            let size = match batch_size {
                Some(size) => quote!(::std::option::Option::Some((#size) as usize)),
                None => quote!(::std::option::Option::None),
            };
            let name = &plan.stages[index].text;
            let needs_resources = !resources.is_empty();
            let resources = {
                let get = |n: &str| resources.iter().find(|(k, _)| k == n).map(|(_, e)| e);
                let some = |e: Option<&syn::Expr>, ty: TokenStream| match e {
                    Some(e) => quote!(::std::option::Option::Some((#e) as #ty)),
                    None => quote!(::std::option::Option::None),
                };
                let (cpus, gpus, memory) = (
                    some(get("num_cpus"), quote!(f64)),
                    some(get("num_gpus"), quote!(f64)),
                    some(get("memory"), quote!(usize)),
                );
                let cpu_fallback = match get("cpu_fallback") {
                    Some(e) => quote!((#e) as bool),
                    None => quote!(true),
                };
                quote!(#rt::Resources { cpus: #cpus, gpus: #gpus, memory: #memory, cpu_fallback: #cpu_fallback })
            };
            if let Some(crate::plan::Compute::Actors { min, max }) = compute.as_deref() {
                let constructor_args = match args.as_slice() {
                    [] => quote!(()),
                    [one] => quote!(#one),
                    many => quote!((#(#many,)*)),
                };
                let stage = quote! {
                    #rt::Stage::Pooled {
                        name: #name.into(),
                        batch_size: #size,
                        spec: #rt::stateful_pool::<#input_ty, #output_ty, #func>(
                            #constructor_args,
                            #rt::Compute::Actors { min: (#min) as usize, max: (#max) as usize },
                            #resources,
                        ),
                    }
                };
                return (quote!(), stage);
            }
            let func = if args.is_empty() {
                quote!(#func)
            } else {
                let fields = (0..args.len()).map(syn::Index::from);
                quote! {{
                    let __aq_args = (#(#args,)*);
                    let __aq_user = #func;
                    move |__aq_batch| __aq_user(__aq_batch, #(::std::clone::Clone::clone(&__aq_args.#fields)),*)
                }}
            };
            let block_fn = quote!(#rt::batch_fn::<#input_ty, #output_ty, _, _, _>(#func));
            let stage = match compute.as_deref() {
                Some(crate::plan::Compute::Tasks(n)) => quote! {
                    #rt::Stage::Pooled {
                        name: #name.into(),
                        batch_size: #size,
                        spec: #rt::task_pool(#block_fn, #rt::Compute::Tasks((#n) as usize), #resources),
                    }
                },
                _ if needs_resources => quote! {
                    #rt::Stage::Pooled {
                        name: #name.into(),
                        batch_size: #size,
                        spec: #rt::task_pool(#block_fn, #rt::Compute::Tasks(usize::MAX), #resources),
                    }
                },
                _ => quote! {
                    #rt::Stage::MapBatches {
                        name: #name.into(),
                        batch_size: #size,
                        func: ::std::sync::Arc::new(#block_fn),
                    }
                },
            };
            (quote!(), stage)
        }
        NodeKind::Limit(n) => (quote!(), quote!(#rt::Stage::Limit((#n) as usize))),
        NodeKind::WithColumns { gpu: Some(gpu), .. } => {
            // The CPU code of the stage (a loop of its own), and its kernel beside it.
            let (setup, _) = row_loop::emit(plan, index, index + 1, records);
            let cpu = quote::format_ident!("__aq_stage{}", index);
            let output_ty = records.type_of(&plan.block(index + 1), None);
            let name = &plan.stages[index].text;
            let crate::plan::Gpu {
                gpus,
                cpu_fallback,
                kernel,
            } = gpu;
            let cpu_fallback = match cpu_fallback {
                Some(e) => quote!((#e) as bool),
                None => quote!(true),
            };
            let (ptx, kernel_name, outputs) = (&kernel.ptx, &kernel.name, &kernel.outputs);
            let elements = kernel.elements;
            let inputs = kernel
                .inputs
                .iter()
                .map(|(name, width)| quote!((#name, #width)));
            let stage = quote! {
                #rt::Stage::Pooled {
                    name: #name.into(),
                    batch_size: ::std::option::Option::None,
                    spec: #rt::gpu_columns_pool(
                        #rt::ColumnsKernel {
                            ptx: #ptx,
                            name: #kernel_name,
                            inputs: &[#(#inputs),*],
                            outputs: &[#(#outputs),*],
                            elements: #elements,
                            schema: <#output_ty as #rt::Record>::schema(),
                        },
                        ::std::sync::Arc::new(#cpu),
                        (#gpus) as f64,
                        #cpu_fallback,
                    ),
                }
            };
            (setup, stage)
        }
        _ => unreachable!("row-wise stages are fused"),
    }
}
