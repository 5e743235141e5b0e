//! `map(f)` and `flat_map(f)`: a Rust closure (or function) per row. `map` returns one record,
//! `flat_map` any number (`Vec<Out>`, `Option<Out>`, any `IntoIterator<Item = Out>`). The output
//! record comes from the closure's return type (`|s| -> Out {..}`) or a type argument
//! (`map::<Out>(f)`).

use quote::{ToTokens, quote};

use super::{Checked, Checker, Spec, check_args, closure};
use crate::emit::{GeneratedRecords, RowLoop};
use crate::plan::{At, Kind, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC: Spec = Spec {
    name: "map",
    type_args: true,
    check: |ck, call, input, _| check(ck, call, input, false),
};
pub const SPEC_FLAT: Spec = Spec {
    name: "flat_map",
    type_args: true,
    check: |ck, call, input, _| check(ck, call, input, true),
};

/// One output record per input record (`flat`: any number). `input` names the record the
/// closure takes when the columns are not a declared record's (else a record is generated).
struct Map {
    func: syn::Expr,
    input: Option<syn::Path>,
    flat: bool,
}

fn check(ck: &Checker, call: &Call, input: &Schema, flat: bool) -> Checked {
    let op = if flat { "flat_map" } else { "map" };
    if !check_args(ck.cx, call, &["f"], &[]) {
        return None;
    }
    let func = call.positional().next()?;
    let output = output_record(ck, call, func, op)?;
    let record = closure::input_record(ck, op, func, input).ok()?;
    let schema = ck.records.schema(&output)?;
    let map = Map {
        func: func.clone(),
        input: record,
        flat,
    };
    Some((Box::new(map), schema))
}

impl Operator for Map {
    fn kind(&self) -> Kind {
        Kind::RowWise
    }

    fn fuse(&self, lp: &mut RowLoop, at: &At, records: &mut GeneratedRecords) {
        let rt = rt();
        let func = &self.func;
        let in_ty = records.type_of(at.input, self.input.as_ref());
        let out_ty = records.type_of(at.output, None);
        let f = lp.fresh("f");
        let wrapped = if self.flat {
            quote!(#rt::flat_map_fn::<#in_ty, #out_ty, _, _>(#func))
        } else {
            quote!(#rt::map_fn::<#in_ty, #out_ty, _>(#func))
        };
        lp.setup(quote!(let #f = #wrapped;));
        let row_in = lp.construct(&in_ty);
        let row = lp.fresh("row");
        if self.flat {
            // Rows multiply: every later column is a field of the new row, read inside a
            // loop over the closure's output.
            lp.nest(quote!(for #row in (#f)(#row_in)));
        } else {
            lp.push(quote!(let #row: #out_ty = (#f)(#row_in);));
        }
        lp.rows_of(&row, at.output);
    }
}

/// The record a closure stage produces: its type argument, else its closure's return type.
pub fn output_record(ck: &Checker, call: &Call, func: &syn::Expr, op: &str) -> Option<syn::Path> {
    if call.generics.len() > 1 {
        ck.cx.error_spanned_by(
            &call.generics_tokens,
            format!("`{op}` takes one type argument: the record it produces"),
        );
        return None;
    }
    let declared = call.generics.first().or_else(|| closure::return_type(func));
    match declared.and_then(closure::record_path) {
        Some(path) => Some(path),
        None => {
            let at = declared
                .map(|t| t.to_token_stream())
                .unwrap_or_else(|| func.to_token_stream());
            ck.cx.error_spanned_by(
                at,
                format!("`{op}` must declare the record it produces: `{op}(|row| -> Out {{ .. }})` or `{op}::<Out>(f)`"),
            );
            None
        }
    }
}
