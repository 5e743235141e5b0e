//! `zip::<R>(other)`: `other` is a `Dataset<R>`; its columns join these, row by row. Column
//! names must not collide.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Checker, Spec, check_args};
use crate::emit::GeneratedRecords;
use crate::plan::{At, Exchange, Kind, Loop, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC: Spec = Spec {
    name: "zip",
    type_args: true,
    check,
};

struct Zip {
    /// The other dataset.
    other: syn::Expr,
    /// Its record.
    record: syn::Path,
}

fn check(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
    if !check_args(ck.cx, call, &["other"], &[]) {
        return None;
    }
    let [ty] = call.generics.as_slice() else {
        ck.cx.error_spanned_by(
            &call.name,
            "`zip` needs the other dataset's record: `zip::<Features>(features)`",
        );
        return None;
    };
    let record = super::closure::record_path(ty)?;
    let other = ck.records.schema(&record)?;
    let collisions: Vec<String> = other
        .columns
        .iter()
        .filter(|c| input.column(&c.name).is_some())
        .map(|c| format!("`{}`", c.name))
        .collect();
    if !collisions.is_empty() {
        ck.cx.error_spanned_by(
            ty,
            format!(
                "cannot zip {} with `{}`: both have column(s) {}; rename them on one side first",
                input.describe(),
                crate::schema::path_text(&record),
                collisions.join(", ")
            ),
        );
        return None;
    }
    let mut columns = input.columns.clone();
    columns.extend(other.columns);
    let op = Zip {
        other: call.positional().next()?.clone(),
        record,
    };
    Some((
        Box::new(op),
        Schema {
            record: None,
            columns,
        },
    ))
}

impl Operator for Zip {
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
        let name = at.text.to_owned();
        let output = records.type_of(at.output, None);
        let (other, record) = (self.other.clone(), self.record.clone());
        let source = Exchange::Source(Box::new(move |input| {
            quote! {
                ::std::sync::Arc::new(#rt::ZipSource::new(
                    #name,
                    #input,
                    ::aqueduct::Dataset::<#record>::plan(&(#other)),
                    <#output as #rt::Record>::schema(),
                ))
            }
        }));
        (quote!(), source)
    }
}
