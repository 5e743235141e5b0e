//! `groupby(keys) |> map_groups(f)`: `f` takes one whole group (a `RecordBatch` or
//! `Vec<Record>`) and returns rows, as `map_batches` functions do.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Checker, Spec, check_args};
use crate::emit::GeneratedRecords;
use crate::plan::{At, Exchange, Kind, Loop, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC: Spec = Spec {
    name: "map_groups",
    type_args: true,
    check,
};

struct MapGroups {
    keys: Vec<String>,
    func: syn::Expr,
    /// The record the function takes, when not the input's own.
    input: Option<syn::Path>,
}

fn check(ck: &Checker, call: &Call, input: &Schema, keys: Option<Vec<String>>) -> Checked {
    let Some(keys) = keys else {
        ck.cx
            .error_spanned_by(&call.name, "`map_groups` needs a `groupby(...)` before it");
        return None;
    };
    if !check_args(ck.cx, call, &["f"], &[]) {
        return None;
    }
    let (func, record, output) = super::map_batches::batch_function(ck, call, input)?;
    let op = MapGroups {
        keys,
        func: func.clone(),
        input: record,
    };
    Some((Box::new(op), output))
}

impl Operator for MapGroups {
    fn kind(&self) -> Kind {
        Kind::AllToAll
    }

    fn exchange(
        &self,
        at: &At,
        _: Loop,
        records: &mut GeneratedRecords,
    ) -> (TokenStream, Exchange) {
        let rt = rt();
        let MapGroups { keys, func, input } = self;
        let input_ty = records.type_of(at.input, input.as_ref());
        let output_ty = records.type_of(at.output, None);
        let op = quote! {
            #rt::RowOp::MapGroups {
                keys: ::std::vec![#(::std::string::String::from(#keys)),*],
                func: ::std::sync::Arc::new(#rt::batch_fn::<#input_ty, #output_ty, _, _, _>(#func)),
            }
        };
        (quote!(), super::row_exchange(at, op))
    }
}
