//! Procedural macros of aqueduct. They only parse and hand over to `aqueduct-codegen`; use
//! them through the `aqueduct` crate, whose docs describe them.

use proc_macro::TokenStream;

/// Derive `aqueduct::Record` for a struct with named fields: see `aqueduct::Record`.
#[proc_macro_derive(Record)]
pub fn derive_record(input: TokenStream) -> TokenStream {
    aqueduct_codegen::derive_record(input.into()).into()
}

/// Compile a pipeline: see `aqueduct::pipeline!`.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    aqueduct_codegen::pipeline(input.into()).into()
}
