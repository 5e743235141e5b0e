//! `filter(predicate)`: keep the rows where a column expression is true, or where a closure
//! over `&Record` returns true.

use std::collections::BTreeSet;

use quote::quote;
use syn::{Expr, Path};

use super::{Checked, Checker, Spec, check_args, closure};
use crate::emit::{GeneratedRecords, RowLoop};
use crate::expr::{Typed, check as check_expr, columns_read, render};
use crate::plan::{At, Effect, Kind, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;
use crate::type_scope::TypeScope;
use crate::types::LType;

pub const SPEC: Spec = Spec {
    name: "filter",
    type_args: false,
    check,
};

/// `filter(column expression)`.
struct Filter {
    predicate: Expr,
    /// The predicate, type-checked.
    typed: Typed,
}

/// `filter(|row: &Record| ..)`: `input` names the record the closure takes when the columns
/// are not a declared record's (else a record is generated).
struct FilterFn {
    func: Expr,
    input: Option<Path>,
}

fn check(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
    if !check_args(ck.cx, call, &["predicate"], &[]) {
        return None;
    }
    let predicate = call.positional().next()?;
    if let syn::Expr::Closure(_) = predicate {
        let record = closure::input_record(ck, "filter", predicate, input).ok()?;
        let op = FilterFn {
            func: predicate.clone(),
            input: record,
        };
        return Some((Box::new(op), input.clone()));
    }
    let typed = check_expr(ck.cx, predicate, &mut TypeScope::new(input))?;
    if !matches!(typed.ltype, LType::Bool | LType::Opaque(_)) {
        ck.cx.error_spanned_by(
            predicate,
            format!("`filter` needs a `bool` predicate, found `{}`", typed.ltype),
        );
        return None;
    }
    let op = Filter {
        predicate: predicate.clone(),
        typed,
    };
    Some((Box::new(op), input.clone()))
}

impl Operator for Filter {
    fn kind(&self) -> Kind {
        Kind::RowWise
    }

    fn needs(&self, _: &Schema, live: &mut BTreeSet<String>) -> BTreeSet<String> {
        let mut needed = live.clone();
        let mut read = Vec::new();
        columns_read(&self.predicate, &mut read);
        needed.extend(read);
        needed
    }

    fn effect(&self) -> Effect<'_> {
        Effect::Selects(Some(&self.predicate))
    }

    fn fuse(&self, lp: &mut RowLoop, _: &At, _: &mut GeneratedRecords) {
        let tokens = render(&self.typed, lp).tokens;
        lp.keep_if(quote!((#tokens)));
    }
}

impl Operator for FilterFn {
    fn kind(&self) -> Kind {
        Kind::RowWise
    }

    fn effect(&self) -> Effect<'_> {
        Effect::Selects(None)
    }

    fn fuse(&self, lp: &mut RowLoop, at: &At, records: &mut GeneratedRecords) {
        let rt = rt();
        let func = &self.func;
        let record_ty = records.type_of(at.input, self.input.as_ref());
        let f = lp.fresh("f");
        lp.setup(quote!(let #f = #rt::filter_fn::<#record_ty, _>(#func);));
        let row = lp.construct(&record_ty);
        lp.keep_if(quote!((#f)(&#row)));
        lp.forget_whole_row();
    }
}
