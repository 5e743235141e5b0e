//! `sort(a, desc(b), nulls_first = true)`: all rows ordered by the keys (stable: ties keep
//! their input order).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Checker, Spec, column_name};
use crate::emit::GeneratedRecords;
use crate::plan::{At, Exchange, Kind, Loop, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC: Spec = Spec {
    name: "sort",
    type_args: false,
    check,
};

/// One sort key.
struct Key {
    column: String,
    descending: bool,
    nulls_first: bool,
}

struct Sort(Vec<Key>);

fn check(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
    if !super::check_named(ck.cx, call, &["nulls_first"]) {
        return None;
    }
    let nulls_first = match call.named("nulls_first") {
        None => false,
        Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Bool(b),
            ..
        })) => b.value,
        Some(other) => {
            ck.cx
                .error_spanned_by(other, "`nulls_first` takes `true` or `false`");
            return None;
        }
    };
    let mut keys = Vec::new();
    let mut ok = true;
    for expr in call.positional() {
        let (column, descending) = match expr {
            syn::Expr::Call(c)
                if c.args.len() == 1
                    && matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("desc") || p.path.is_ident("asc")) =>
            {
                let desc = matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("desc"));
                (&c.args[0], desc)
            }
            other => (other, false),
        };
        match column_name(ck.cx, column, input) {
            Some(column) => keys.push(Key {
                column,
                descending,
                nulls_first,
            }),
            None => ok = false,
        }
    }
    if keys.is_empty() && ok {
        ck.cx.error_at(
            call.paren_span,
            "`sort` needs at least one column: `sort(price)` or `sort(desc(price), id)`",
        );
        return None;
    }
    ok.then(|| (Box::new(Sort(keys)) as Box<dyn Operator>, input.clone()))
}

impl Operator for Sort {
    fn kind(&self) -> Kind {
        Kind::AllToAll
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        let mut needed = live.clone();
        needed.extend(self.0.iter().map(|k| k.column.clone()));
        needed
    }

    fn exchange(&self, at: &At, _: Loop, _: &mut GeneratedRecords) -> (TokenStream, Exchange) {
        let rt = rt();
        let keys = self.0.iter().map(|key| {
            let Key {
                column,
                descending,
                nulls_first,
            } = key;
            quote! {
                #rt::SortKey {
                    column: ::std::string::String::from(#column),
                    descending: #descending,
                    nulls_first: #nulls_first,
                }
            }
        });
        let op = quote!(#rt::RowOp::Sort(::std::vec![#(#keys),*]));
        (quote!(), super::row_exchange(at, op))
    }
}
