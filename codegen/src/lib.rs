//! The aqueduct compiler as a plain library: the DSL's syntax tree → a checked logical plan →
//! optimised physical segments → Rust tokens. `aqueduct-macros` only calls [`pipeline`] and
//! [`derive_record`]; everything here is unit-testable without a proc-macro context.
//!
//! `pipeline!` learns the columns of the records it names through a callback each record's
//! derive defines (see [`record`]): the first expansion asks for every schema it lacks, and
//! the expansion that has them all compiles the pipeline.

mod ctxt;
mod emit;
mod explain;
mod expr;
mod lower;
mod ops;
mod optimize;
mod plan;
pub mod ptx;
pub mod record;
mod schema;
#[cfg(test)]
mod snapshots;
mod syntax;
#[cfg(test)]
mod tests;
mod tokens;
mod type_scope;
mod types;

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;

use ctxt::Ctxt;
use schema::{COLLECTED, Collected, Records};
use syntax::Pipeline;

/// Expand `#[derive(Record)]`.
pub fn derive_record(input: TokenStream) -> TokenStream {
    record::derive(input)
}

/// Expand `pipeline! { ... }`.
pub fn pipeline(input: TokenStream) -> TokenStream {
    let (collected, rest) = match split_collected(input.clone()) {
        Ok(parts) => parts,
        Err(e) => return e.to_compile_error(),
    };
    let (fusion, body) = match split_options(rest) {
        Ok(parts) => parts,
        Err(e) => return e.to_compile_error(),
    };
    let pipeline: Pipeline = match syn::parse2(body.clone()) {
        Ok(p) => p,
        Err(e) => return e.to_compile_error(),
    };
    let records = collected.as_ref().map(|c| &c.records);
    let missing = ops::referenced_records(&pipeline)
        .into_iter()
        .find(|path| !records.is_some_and(|r| r.contains(path)));
    if let Some(path) = missing {
        // Ask the record for its schema; it calls `pipeline!` back with it added.
        let done = collected.map(|c| c.tokens).unwrap_or_default();
        let options = (!fusion).then(|| quote!(#![no_fusion]));
        let path_tokens = quote!(#path);
        return quote! {{
            // Names the record in an ordinary type position too, so a missing record or a
            // missing derive is reported in plain words.
            let _: ::std::marker::PhantomData<#path_tokens> = ::aqueduct::__private::assert_record::<#path_tokens>();
            #path! { { #done } [ #path_tokens ] #options #body }
        }};
    }
    let empty = Records::default();
    compile(&pipeline, records.unwrap_or(&empty), fusion)
}

/// Check, optimise and emit a pipeline whose records are all known.
fn compile(pipeline: &Pipeline, records: &Records, fusion: bool) -> TokenStream {
    let cx = Ctxt::new();
    let plan = ops::check_pipeline(&cx, pipeline, records, fusion);
    match cx.check() {
        Err(errors) => quote! {{
            #errors
            ::aqueduct::__private::invalid_pipeline()
        }},
        Ok(()) => {
            let mut plan = plan.expect("no errors means a plan");
            optimize::run(&mut plan);
            lower::pipeline(&plan)
        }
    }
}

/// Split off the `@aqueduct_schemas { ... }` the callbacks prepend.
fn split_collected(input: TokenStream) -> syn::Result<(Option<Collected>, TokenStream)> {
    let mut tokens = input.clone().into_iter();
    match (tokens.next(), tokens.next()) {
        (Some(TokenTree::Punct(at)), Some(TokenTree::Ident(keyword)))
            if at.as_char() == '@' && keyword == COLLECTED =>
        {
            let group = tokens.next();
            let collected: Collected = syn::parse2(quote!(#group))?;
            Ok((Some(collected), tokens.collect()))
        }
        _ => Ok((None, input)),
    }
}

/// Split off the inner attributes: `#![no_fusion]` compiles each stage on its own.
fn split_options(input: TokenStream) -> syn::Result<(bool, TokenStream)> {
    struct Options(Vec<syn::Attribute>, TokenStream);
    impl syn::parse::Parse for Options {
        fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
            Ok(Options(
                input.call(syn::Attribute::parse_inner)?,
                input.parse()?,
            ))
        }
    }
    let Options(attributes, rest) = syn::parse2(input)?;
    let mut fusion = true;
    for attribute in attributes {
        if attribute.path().is_ident("no_fusion") {
            fusion = false;
        } else {
            return Err(syn::Error::new_spanned(
                attribute,
                "unknown pipeline option; expected `#![no_fusion]`",
            ));
        }
    }
    Ok((fusion, rest))
}
