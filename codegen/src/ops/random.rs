//! `random_shuffle(seed = n)` (every row to a random place) and `randomize_block_order(seed =
//! n)` (blocks in a random order, rows within them kept); without a seed, each run draws one.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Checker, Spec, check_args};
use crate::emit::GeneratedRecords;
use crate::plan::{At, Exchange, Kind, Loop, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC_SHUFFLE: Spec = Spec {
    name: "random_shuffle",
    type_args: false,
    check: |ck, call, input, _| check(ck, call, input, false),
};
pub const SPEC_BLOCK_ORDER: Spec = Spec {
    name: "randomize_block_order",
    type_args: false,
    check: |ck, call, input, _| check(ck, call, input, true),
};

struct Random {
    seed: syn::Expr,
    /// Whole blocks move, not rows.
    blocks: bool,
}

fn check(ck: &Checker, call: &Call, input: &Schema, blocks: bool) -> Checked {
    if !check_args(ck.cx, call, &[], &["seed"]) {
        return None;
    }
    let seed = call
        .named("seed")
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(::aqueduct::__private::random_seed()));
    Some((Box::new(Random { seed, blocks }), input.clone()))
}

impl Operator for Random {
    fn kind(&self) -> Kind {
        Kind::AllToAll
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        live.clone()
    }

    fn exchange(&self, at: &At, _: Loop, _: &mut GeneratedRecords) -> (TokenStream, Exchange) {
        let rt = rt();
        let seed = &self.seed;
        let op = if self.blocks {
            quote!(#rt::RowOp::RandomizeBlockOrder { seed: (#seed) as u64 })
        } else {
            quote!(#rt::RowOp::RandomShuffle { seed: (#seed) as u64 })
        };
        (quote!(), super::row_exchange(at, op))
    }
}
