//! `limit(n)`: the first n rows, in order; reading stops once they are out.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Checker, Spec, check_args};
use crate::emit::GeneratedRecords;
use crate::plan::{At, Kind, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC: Spec = Spec {
    name: "limit",
    type_args: false,
    check,
};

struct Limit(syn::Expr);

fn check(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
    if !check_args(ck.cx, call, &["n"], &[]) {
        return None;
    }
    let n = call.positional().next()?.clone();
    Some((Box::new(Limit(n)), input.clone()))
}

impl Operator for Limit {
    fn kind(&self) -> Kind {
        // It counts rows across blocks, in order: it runs on the consumer.
        Kind::Alone
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        live.clone()
    }

    fn alone(&self, _: &At, _: &mut GeneratedRecords) -> (TokenStream, TokenStream) {
        let rt = rt();
        let n = &self.0;
        (quote!(), quote!(#rt::Stage::Limit((#n) as usize)))
    }
}
