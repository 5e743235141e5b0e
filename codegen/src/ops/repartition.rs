//! `repartition(n)`: the rows in n splits of nearly equal size, in order.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Checker, Spec, check_args};
use crate::emit::GeneratedRecords;
use crate::plan::{At, Exchange, Kind, Loop, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC: Spec = Spec {
    name: "repartition",
    type_args: false,
    check,
};

struct Repartition(syn::Expr);

fn check(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
    if !check_args(ck.cx, call, &["n"], &[]) {
        return None;
    }
    let n = call.positional().next()?.clone();
    Some((Box::new(Repartition(n)), input.clone()))
}

impl Operator for Repartition {
    fn kind(&self) -> Kind {
        Kind::AllToAll
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        live.clone()
    }

    fn exchange(&self, at: &At, _: Loop, _: &mut GeneratedRecords) -> (TokenStream, Exchange) {
        let rt = rt();
        let n = &self.0;
        let op = quote!(#rt::RowOp::Repartition((#n) as usize));
        (quote!(), super::row_exchange(at, op))
    }
}
