//! All-to-all operators as runtime exchanges: the hash aggregate (whose feed is the fused
//! loop of the stages before it) and the row exchanges (sort, shuffles, repartition,
//! map_groups).

use proc_macro2::TokenStream;
use quote::quote;

use super::GeneratedRecords;
use crate::plan::{AggregateFn, NodeKind, Plan, RowsOp};
use crate::schema::Column;
use crate::types::LType;

fn rt() -> TokenStream {
    quote!(::aqueduct::__private)
}

/// The type an aggregate's values have: the column's, or the inner type of a nullable one.
pub fn value_type(column: &Column) -> TokenStream {
    let rt = rt();
    let ty = &column.ty;
    match &column.ltype {
        LType::Nullable(inner) => match inner.rust_type() {
            Some(inner) => inner,
            None => quote!(<#ty as #rt::Nullable>::Inner),
        },
        _ => ty.clone(),
    }
}

/// The hash aggregate of stage `index`, fed by the loop of stages `start..index`:
/// (setup statements, an expression of the exchange).
pub fn aggregate(
    plan: &Plan,
    start: usize,
    index: usize,
    name: &str,
    records: &mut GeneratedRecords,
) -> (TokenStream, TokenStream) {
    let rt = rt();
    let NodeKind::Aggregate { keys, aggregates } = &plan.stages[index].kind else {
        unreachable!("an aggregate")
    };
    let input = &plan.schemas[index];
    let output = &plan.schemas[index + 1];
    let output_ty = records.type_of(output, None);
    let key_columns: Vec<&Column> = keys
        .iter()
        .map(|k| input.column(k).expect("checked"))
        .collect();
    let key_types: Vec<&TokenStream> = key_columns.iter().map(|c| &c.ty).collect();
    let values: Vec<TokenStream> = aggregates
        .iter()
        .map(|a| match &a.input {
            Some(c) if !matches!(a.func, AggregateFn::Count) => value_type(c),
            _ => quote!(bool),
        })
        .collect();
    let aggregators = aggregates.iter().map(|a| {
        let path = crate::ops::builtin_path(&a.func);
        match &a.func {
            AggregateFn::Std(Some(ddof)) => quote!(#path { ddof: (#ddof) as u32 }),
            AggregateFn::Std(None) => quote!(#path { ddof: 1 }),
            AggregateFn::Quantile(q) => quote!(#path { q: (#q) as f64 }),
            AggregateFn::Custom(expr) => quote!((#expr)),
            _ => path,
        }
    });
    let at: Vec<syn::Index> = (0..aggregates.len()).map(syn::Index::from).collect();
    let (feed_setup, feed) = super::row_loop::feed(plan, start, index, records);

    // The output: columns in the output schema's order, from keys or aggregates.
    let mut builders = Vec::new();
    let mut appends = Vec::new();
    let mut finished = Vec::new();
    for (n, column) in output.columns.iter().enumerate() {
        let builder = quote::format_ident!("__aq_b{}", n);
        let ty = &column.ty;
        builders.push(quote!(let mut #builder = <#ty as #rt::Field>::builder(__aq_n);));
        finished.push(quote!(#rt::finish::<#ty>(&mut #builder)));
        if let Some(k) = keys.iter().position(|k| *k == column.name) {
            let k = syn::Index::from(k);
            appends.push(quote!(<#ty as #rt::Field>::append_owned(&mut #builder, &__aq_key.#k);));
        } else {
            let a = aggregates
                .iter()
                .position(|a| a.output.name == column.name)
                .expect("every output column is a key or an aggregate");
            let (i, value) = (syn::Index::from(a), &values[a]);
            appends.push(quote! {
                let __aq_v = #rt::Aggregator::<#value>::finish(&__aq_aggs.#i, __aq_state.#i);
                <#ty as #rt::Field>::append_owned(&mut #builder, &__aq_v);
            });
        }
    }
    let whole = keys.is_empty();
    let setup = quote! {
        #feed_setup
        let __aq_aggs = ::std::sync::Arc::new((#(#aggregators,)*));
        let __aq_init = {
            let __aq_aggs = ::std::clone::Clone::clone(&__aq_aggs);
            move || (#(#rt::Aggregator::<#values>::init(&__aq_aggs.#at),)*)
        };
    };
    let exchange = quote! {{
        #[allow(unused_mut, unused_variables, unused_parens, clippy::all)]
        let __aq_feed = #feed;
        let __aq_merge = {
            let __aq_aggs = ::std::clone::Clone::clone(&__aq_aggs);
            #rt::merge_fn(&__aq_init, move |__aq_a, __aq_b| {
                #(#rt::Aggregator::<#values>::merge(&__aq_aggs.#at, &mut __aq_a.#at, __aq_b.#at);)*
            })
        };
        let __aq_finish = {
            let __aq_aggs = ::std::clone::Clone::clone(&__aq_aggs);
            #[allow(unused_variables)]
            #rt::finish_fn(&__aq_init, move |__aq_groups: ::std::vec::Vec<((#(#key_types,)*), _)>| -> ::std::result::Result<#rt::RecordBatch, ::std::string::String> {
                let __aq_n = __aq_groups.len();
                #(#builders)*
                for (__aq_key, __aq_state) in __aq_groups {
                    #(#appends)*
                }
                #rt::batch_from_columns(
                    <#output_ty as #rt::Record>::schema(),
                    ::std::vec![#(#finished),*],
                    __aq_n,
                )
            })
        };
        #rt::HashAggregate::<(#(#key_types,)*), _>::new(#name, #whole, __aq_feed, __aq_init, __aq_merge, __aq_finish)
    }};
    (setup, exchange)
}

/// How an all-to-all operator reads the plan before it.
pub enum Operator {
    /// An exchange, wrapped in an `ExchangeSource` over the input plan.
    Exchange(TokenStream),
    /// A source of its own, made from the input plan's tokens.
    Source(Box<dyn FnOnce(TokenStream) -> TokenStream>),
}

/// The row exchange of stage `index`, or `zip`.
pub fn rows(plan: &Plan, index: usize, records: &mut GeneratedRecords) -> Operator {
    let rt = rt();
    let name = plan.stages[index].text.clone();
    let op = match &plan.stages[index].kind {
        NodeKind::Zip { other, record } => {
            let output = records.type_of(&plan.schemas[index + 1], None);
            let (other, record) = (other.clone(), record.clone());
            return Operator::Source(Box::new(move |input| {
                quote! {
                    ::std::sync::Arc::new(#rt::ZipSource::new(
                        #name,
                        #input,
                        ::aqueduct::Dataset::<#record>::plan(&(#other)),
                        <#output as #rt::Record>::schema(),
                    ))
                }
            }));
        }
        NodeKind::Rows(RowsOp::Sort(keys)) => {
            let keys = keys.iter().map(|(column, descending, nulls_first)| {
                quote! {
                    #rt::SortKey {
                        column: ::std::string::String::from(#column),
                        descending: #descending,
                        nulls_first: #nulls_first,
                    }
                }
            });
            quote!(#rt::RowOp::Sort(::std::vec![#(#keys),*]))
        }
        NodeKind::Rows(RowsOp::RandomShuffle(seed)) => {
            quote!(#rt::RowOp::RandomShuffle { seed: (#seed) as u64 })
        }
        NodeKind::Rows(RowsOp::RandomizeBlockOrder(seed)) => {
            quote!(#rt::RowOp::RandomizeBlockOrder { seed: (#seed) as u64 })
        }
        NodeKind::Rows(RowsOp::Repartition(n)) => quote!(#rt::RowOp::Repartition((#n) as usize)),
        NodeKind::MapGroups { keys, func, input } => {
            let input_ty = records.type_of(&plan.schemas[index], input.as_ref());
            let output_ty = records.type_of(&plan.schemas[index + 1], None);
            quote! {
                #rt::RowOp::MapGroups {
                    keys: ::std::vec![#(::std::string::String::from(#keys)),*],
                    func: ::std::sync::Arc::new(#rt::batch_fn::<#input_ty, #output_ty, _, _, _>(#func)),
                }
            }
        }
        _ => unreachable!("a row exchange"),
    };
    Operator::Exchange(quote!(#rt::RowExchange::new(#name, #op)))
}
