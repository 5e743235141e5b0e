//! `groupby(keys) |> aggregate(name = sum(column), ...)`, `aggregate(...)` over the whole
//! dataset, and `unique(column)`. Each output is `name = function(column)`; the functions are
//! `count()`, `count(c)`, `sum`, `min`, `max`, `mean`, `std(c)` (sample; `std(c, ddof = 0)` for
//! the population's), `absmax`, `quantile(c, q)`, `unique`, `first`, `last`, and
//! `name: Type = agg(aggregator, c)` for a user's `Aggregator`. Output columns are the keys,
//! then the aggregates in order; `aggregate::<R>(...)` checks them against record `R`.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Expr;
use syn::spanned::Spanned;

use super::{Checked, Checker, Spec, check_named, column_name};
use crate::ctxt::did_you_mean;
use crate::emit::{FeedValue, GeneratedRecords, value_type};
use crate::plan::{At, Exchange, Kind, Loop, Operator};
use crate::schema::{Column, Schema, path_text};
use crate::syntax::{Arg, Call};
use crate::tokens::rt;
use crate::types::LType;

pub const SPEC: Spec = Spec {
    name: "aggregate",
    type_args: true,
    check: |ck, call, input, keys| check(ck, call, input, keys.unwrap_or_default()),
};
pub const SPEC_UNIQUE: Spec = Spec {
    name: "unique",
    type_args: false,
    check: |ck, call, input, _| check_unique(ck, call, input),
};

/// `groupby(keys) |> aggregate(...)`, `aggregate(...)` (no keys) or `unique(column)`.
struct HashAggregate {
    keys: Vec<String>,
    aggregates: Vec<Aggregate>,
}

/// One output column of an aggregate.
struct Aggregate {
    /// The output column.
    output: Column,
    func: AggregateFn,
    /// The input column (`None` for `count()`).
    input: Option<Column>,
}

/// Which aggregate.
enum AggregateFn {
    Count,
    Sum,
    Min,
    Max,
    Mean,
    Std(Option<Expr>),
    AbsMax,
    Quantile(Expr),
    Unique,
    First,
    Last,
    /// A user's `Aggregator` value.
    Custom(Expr),
}

/// The aggregate functions, for hints.
const FUNCTIONS: &[&str] = &[
    "count", "sum", "min", "max", "mean", "std", "absmax", "quantile", "unique", "first", "last",
    "agg",
];

/// Check `groupby(a, b)`: the key columns, which must be hashable.
pub fn check_groupby(ck: &Checker, call: &Call, input: &Schema) -> Option<Vec<String>> {
    if !check_named(ck.cx, call, &[]) {
        return None;
    }
    if call.positional().next().is_none() {
        ck.cx.error_at(
            call.paren_span,
            "`groupby` needs at least one key column: `groupby(category)`",
        );
        return None;
    }
    let mut keys = Vec::new();
    let mut ok = true;
    for expr in call.positional() {
        let Some(name) = column_name(ck.cx, expr, input) else {
            ok = false;
            continue;
        };
        let ltype = &input.column(&name).expect("checked").ltype;
        if !is_key_type(ltype) {
            ck.cx.error_spanned_by(
                expr,
                format!(
                    "cannot group by `{name}` of type {ltype}: keys must be integers, strings, bools, binary or dates (floats have no reliable equality; round them to an integer column first)"
                ),
            );
            ok = false;
        }
        keys.push(name);
    }
    if keys.len() > 6 {
        ck.cx
            .error_at(call.paren_span, "`groupby` takes at most 6 key columns");
        return None;
    }
    ok.then_some(keys)
}

fn is_key_type(ltype: &LType) -> bool {
    match ltype {
        LType::Int(_) | LType::Bool | LType::Str | LType::Binary | LType::Temporal(_) => true,
        LType::Opaque(_) | LType::Tensor(..) => true,
        LType::Nullable(inner) => !matches!(**inner, LType::Nullable(_)) && is_key_type(inner),
        _ => false,
    }
}

/// Check `aggregate(...)` after `groupby(keys)` (or over everything when `keys` is empty).
fn check(ck: &Checker, call: &Call, input: &Schema, keys: Vec<String>) -> Checked {
    let mut ok = true;
    let mut aggregates = Vec::new();
    for arg in &call.args {
        let Arg::Named { name, ty, value } = arg else {
            let Arg::Positional(expr) = arg else {
                unreachable!()
            };
            ck.cx.error_spanned_by(
                expr,
                "name each aggregate: `aggregate(total = sum(price), n = count())`",
            );
            ok = false;
            continue;
        };
        match check_one(ck, name, ty.as_deref(), value, input) {
            Some(aggregate) => aggregates.push(aggregate),
            None => ok = false,
        }
    }
    let mut columns: Vec<Column> = keys
        .iter()
        .map(|k| input.column(k).expect("checked").clone())
        .collect();
    for aggregate in &aggregates {
        if columns.iter().any(|c| c.name == aggregate.output.name) {
            ck.cx.error_spanned_by(
                call.args.iter().find(
                    |a| matches!(a, Arg::Named { name, .. } if *name == aggregate.output.name),
                ),
                format!(
                    "the output already has a column `{}`",
                    aggregate.output.name
                ),
            );
            ok = false;
        }
        columns.push(aggregate.output.clone());
    }
    if call.args.is_empty() && keys.is_empty() {
        ck.cx.error_at(
            call.paren_span,
            "`aggregate` needs at least one output: `aggregate(n = count())`",
        );
        return None;
    }
    if call.generics.len() > 1 {
        ck.cx.error_spanned_by(
            &call.generics_tokens,
            "`aggregate` takes one type argument: the record of its output",
        );
        return None;
    }
    let mut schema = Schema {
        record: None,
        columns,
    };
    if let Some(ty) = call.generics.first() {
        let path = super::closure::record_path(ty)?;
        let expected = ck.records.schema(&path)?;
        if !expected.same_columns(&schema) {
            ck.cx.error_spanned_by(
                ty,
                format!(
                    "the aggregate produces {} but `{}` is {}",
                    schema.signature(),
                    path_text(&path),
                    expected.signature()
                ),
            );
            return None;
        }
        // The declared record's order and column types.
        schema = expected;
    }
    let op = HashAggregate { keys, aggregates };
    ok.then(|| (Box::new(op) as Box<dyn Operator>, schema))
}

/// Check one `name = function(column, ...)`.
fn check_one(
    ck: &Checker,
    name: &syn::Ident,
    ty: Option<&syn::Type>,
    value: &Expr,
    input: &Schema,
) -> Option<Aggregate> {
    let Expr::Call(call) = value else {
        ck.cx.error_spanned_by(
            value,
            "expected an aggregate function: `sum(price)`, `count()`, `mean(qty)`, ...",
        );
        return None;
    };
    let Expr::Path(path) = &*call.func else {
        ck.cx
            .error_spanned_by(&call.func, "expected an aggregate function name");
        return None;
    };
    let Some(function) = path.path.get_ident() else {
        ck.cx
            .error_spanned_by(&call.func, "expected an aggregate function name");
        return None;
    };
    let fname = function.to_string();
    let args: Vec<&Expr> = call.args.iter().collect();
    let arity = |wanted: &[usize], usage: &str| -> bool {
        if wanted.contains(&args.len()) {
            true
        } else {
            ck.cx
                .error_spanned_by(value, format!("`{fname}` is called as `{usage}`"));
            false
        }
    };
    let column_at = |i: usize| -> Option<Column> {
        let name = column_name(ck.cx, args[i], input)?;
        Some(input.column(&name).expect("checked").clone())
    };
    let (func, column) = match fname.as_str() {
        "count" => {
            if !arity(&[0, 1], "count() or count(column)") {
                return None;
            }
            (
                AggregateFn::Count,
                if args.is_empty() {
                    None
                } else {
                    Some(column_at(0)?)
                },
            )
        }
        "sum" | "min" | "max" | "mean" | "absmax" | "unique" | "first" | "last" => {
            if !arity(&[1], &format!("{fname}(column)")) {
                return None;
            }
            let func = match fname.as_str() {
                "sum" => AggregateFn::Sum,
                "min" => AggregateFn::Min,
                "max" => AggregateFn::Max,
                "mean" => AggregateFn::Mean,
                "absmax" => AggregateFn::AbsMax,
                "unique" => AggregateFn::Unique,
                "first" => AggregateFn::First,
                _ => AggregateFn::Last,
            };
            (func, Some(column_at(0)?))
        }
        "std" => {
            if !arity(&[1, 2], "std(column) or std(column, ddof = 0)") {
                return None;
            }
            let ddof = match args.get(1) {
                None => None,
                Some(Expr::Assign(assign)) if matches!(&*assign.left, Expr::Path(p) if p.path.is_ident("ddof")) => {
                    Some((*assign.right).clone())
                }
                Some(other) => {
                    ck.cx
                        .error_spanned_by(other, "expected `ddof = n`: `std(price, ddof = 0)`");
                    return None;
                }
            };
            (AggregateFn::Std(ddof), Some(column_at(0)?))
        }
        "quantile" => {
            if !arity(&[2], "quantile(column, q)") {
                return None;
            }
            (AggregateFn::Quantile(args[1].clone()), Some(column_at(0)?))
        }
        "agg" => {
            if !arity(&[2], "agg(aggregator, column)") {
                return None;
            }
            if ty.is_none() {
                ck.cx.error_spanned_by(
                    name,
                    format!("give the output type of a custom aggregate: `{name}: f64 = agg(...)`"),
                );
                return None;
            }
            (AggregateFn::Custom(args[0].clone()), Some(column_at(1)?))
        }
        _ => {
            let hint = did_you_mean(&fname, FUNCTIONS.iter().copied())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_else(|| format!("; expected one of: {}", FUNCTIONS.join(", ")));
            ck.cx.error_spanned_by(
                function,
                format!("unknown aggregate function `{fname}`{hint}"),
            );
            return None;
        }
    };
    if ty.is_some() && !matches!(func, AggregateFn::Custom(_)) {
        ck.cx.error_spanned_by(
            ty,
            format!("the type of `{fname}` is known; remove the annotation"),
        );
        return None;
    }
    let span = args.first().map_or(function.span(), |a| a.span());
    let ltype = output_type(ck, &fname, &func, column.as_ref(), ty, span)?;
    let out_ty = match (ty, ltype.rust_type()) {
        (Some(ty), _) => quote!(#ty),
        (None, Some(t)) => t,
        (None, None) => {
            // An opaque input column: name the type through the aggregator.
            let input_ty = &column.as_ref().expect("opaque types come from columns").ty;
            let (aggregator, rt) = (builtin_path(&func), rt());
            quote!(<#aggregator as #rt::Aggregator<#input_ty>>::Output)
        }
    };
    Some(Aggregate {
        output: Column {
            name: name.to_string(),
            ty: out_ty,
            ltype,
        },
        func,
        input: column,
    })
}

/// The output's logical type, or an error at the column if the function does not apply.
fn output_type(
    ck: &Checker,
    fname: &str,
    func: &AggregateFn,
    column: Option<&Column>,
    declared: Option<&syn::Type>,
    span: Span,
) -> Option<LType> {
    if let Some(ty) = declared {
        return Some(LType::of(ty));
    }
    let Some(column) = column else {
        return Some(LType::Int("u64"));
    };
    let value = match &column.ltype {
        LType::Nullable(inner) => (**inner).clone(),
        other => other.clone(),
    };
    let fail = |needs: &str| {
        ck.cx.error_at(
            span,
            format!(
                "`{fname}` needs {needs}, but `{}` is {}",
                column.name, column.ltype
            ),
        );
        None
    };
    let numeric = matches!(value, LType::Int(_) | LType::Float(_) | LType::Opaque(_));
    let ordered = numeric || matches!(value, LType::Bool | LType::Str | LType::Temporal(_));
    let optional = |t: LType| LType::Nullable(Box::new(t));
    match func {
        AggregateFn::Count => Some(LType::Int("u64")),
        AggregateFn::Sum => match value {
            LType::Int(name) if name.starts_with('u') => Some(LType::Int("u64")),
            LType::Int(_) => Some(LType::Int("i64")),
            LType::Float(_) => Some(LType::Float("f64")),
            LType::Opaque(_) => Some(LType::Opaque(String::new())),
            _ => fail("a numeric column"),
        },
        AggregateFn::Mean | AggregateFn::Std(_) | AggregateFn::Quantile(_) => {
            if numeric {
                Some(optional(LType::Float("f64")))
            } else {
                fail("a numeric column")
            }
        }
        AggregateFn::AbsMax => {
            if numeric {
                Some(optional(value))
            } else {
                fail("a numeric column")
            }
        }
        AggregateFn::Min | AggregateFn::Max | AggregateFn::First | AggregateFn::Last => {
            if ordered {
                Some(optional(value))
            } else {
                fail("a column of numbers, strings, bools or dates")
            }
        }
        AggregateFn::Unique => match value {
            LType::Int(_) | LType::Bool | LType::Str | LType::Opaque(_) => {
                Some(LType::List(Box::new(value)))
            }
            _ => fail("a column of integers, strings or bools"),
        },
        AggregateFn::Custom(_) => unreachable!("custom aggregates declare their type"),
    }
}

/// The runtime type of a built-in aggregate.
fn builtin_path(func: &AggregateFn) -> TokenStream {
    let rt = rt();
    match func {
        AggregateFn::Count => quote!(#rt::Count),
        AggregateFn::Sum => quote!(#rt::Sum),
        AggregateFn::Min => quote!(#rt::Min),
        AggregateFn::Max => quote!(#rt::Max),
        AggregateFn::Mean => quote!(#rt::Mean),
        AggregateFn::Std(_) => quote!(#rt::Std),
        AggregateFn::AbsMax => quote!(#rt::AbsMax),
        AggregateFn::Quantile(_) => quote!(#rt::Quantile),
        AggregateFn::Unique => quote!(#rt::Unique),
        AggregateFn::First => quote!(#rt::First),
        AggregateFn::Last => quote!(#rt::Last),
        AggregateFn::Custom(_) => quote!(_),
    }
}

/// Check `unique(column)`: the distinct values of one column, sorted.
fn check_unique(ck: &Checker, call: &Call, input: &Schema) -> Checked {
    if !super::check_args(ck.cx, call, &["column"], &[]) {
        return None;
    }
    let expr = call.positional().next()?;
    let name = column_name(ck.cx, expr, input)?;
    let column = input.column(&name).expect("checked").clone();
    if !is_key_type(&column.ltype) {
        ck.cx.error_spanned_by(
            expr,
            format!("`unique` needs a column of integers, strings, bools, binary or dates, but `{name}` is {}", column.ltype),
        );
        return None;
    }
    let op = HashAggregate {
        keys: vec![name],
        aggregates: Vec::new(),
    };
    Some((
        Box::new(op),
        Schema {
            record: None,
            columns: vec![column],
        },
    ))
}

impl Operator for HashAggregate {
    fn kind(&self) -> Kind {
        Kind::Fed
    }

    fn needs(&self, _: &Schema, _: &mut BTreeSet<String>) -> BTreeSet<String> {
        let inputs = self.aggregates.iter().filter_map(|a| a.input.as_ref());
        self.keys
            .iter()
            .cloned()
            .chain(inputs.map(|c| c.name.clone()))
            .collect()
    }

    fn group_keys(&self) -> &[String] {
        &self.keys
    }

    /// The hash aggregate, fed by the loop of the row-wise stages before it.
    fn exchange(
        &self,
        at: &At,
        feed: Loop,
        records: &mut GeneratedRecords,
    ) -> (TokenStream, Exchange) {
        let rt = rt();
        let HashAggregate { keys, aggregates } = self;
        let (input, output, name) = (at.input, at.output, &at.segment);
        let output_ty = records.type_of(output, None);
        let key_columns: Vec<Column> = keys
            .iter()
            .map(|k| input.column(k).expect("checked").clone())
            .collect();
        let key_types: Vec<&TokenStream> = key_columns.iter().map(|c| &c.ty).collect();
        let values: Vec<TokenStream> = aggregates
            .iter()
            .map(|a| match &a.input {
                Some(c) if !matches!(a.func, AggregateFn::Count) => value_type(c),
                _ => quote!(bool),
            })
            .collect();
        let aggregators = aggregates.iter().map(|a| {
            let path = builtin_path(&a.func);
            match &a.func {
                AggregateFn::Std(Some(ddof)) => quote!(#path { ddof: (#ddof) as u32 }),
                AggregateFn::Std(None) => quote!(#path { ddof: 1 }),
                AggregateFn::Quantile(q) => quote!(#path { q: (#q) as f64 }),
                AggregateFn::Custom(expr) => quote!((#expr)),
                _ => path,
            }
        });
        let at: Vec<syn::Index> = (0..aggregates.len()).map(syn::Index::from).collect();
        let values_fed: Vec<FeedValue> = aggregates
            .iter()
            .map(|a| FeedValue {
                column: a.input.as_ref(),
                counts: matches!(a.func, AggregateFn::Count),
            })
            .collect();
        let (feed_setup, feed) = feed.open(records).feed(&key_columns, &values_fed);

        // The output: columns in the output schema's order, from keys or aggregates.
        let mut builders = Vec::new();
        let mut appends = Vec::new();
        let mut finished = Vec::new();
        for (n, column) in output.columns.iter().enumerate() {
            let builder = quote::format_ident!("__aq_b{}", n);
            let ty = &column.ty;
            builders.push(quote!(let mut #builder = <#ty as #rt::Field>::builder(__aq_n);));
            finished.push(quote!(#rt::finish::<#ty>(&mut #builder)));
            if let Some(k) = keys.iter().position(|k| *k == column.name) {
                let k = syn::Index::from(k);
                appends
                    .push(quote!(<#ty as #rt::Field>::append_owned(&mut #builder, &__aq_key.#k);));
            } else {
                let a = aggregates
                    .iter()
                    .position(|a| a.output.name == column.name)
                    .expect("every output column is a key or an aggregate");
                let (i, value) = (syn::Index::from(a), &values[a]);
                appends.push(quote! {
                    let __aq_v = #rt::Aggregator::<#value>::finish(&__aq_aggs.#i, __aq_state.#i);
                    <#ty as #rt::Field>::append_owned(&mut #builder, &__aq_v);
                });
            }
        }
        let whole = keys.is_empty();
        let setup = quote! {
            #feed_setup
            let __aq_aggs = ::std::sync::Arc::new((#(#aggregators,)*));
            let __aq_init = {
                let __aq_aggs = ::std::clone::Clone::clone(&__aq_aggs);
                move || (#(#rt::Aggregator::<#values>::init(&__aq_aggs.#at),)*)
            };
        };
        let exchange = quote! {{
            #[allow(unused_mut, unused_variables, unused_parens, clippy::all)]
            let __aq_feed = #feed;
            let __aq_merge = {
                let __aq_aggs = ::std::clone::Clone::clone(&__aq_aggs);
                #rt::merge_fn(&__aq_init, move |__aq_a, __aq_b| {
                    #(#rt::Aggregator::<#values>::merge(&__aq_aggs.#at, &mut __aq_a.#at, __aq_b.#at);)*
                })
            };
            let __aq_finish = {
                let __aq_aggs = ::std::clone::Clone::clone(&__aq_aggs);
                #[allow(unused_variables)]
                #rt::finish_fn(&__aq_init, move |__aq_groups: ::std::vec::Vec<((#(#key_types,)*), _)>| -> ::std::result::Result<#rt::RecordBatch, ::std::string::String> {
                    let __aq_n = __aq_groups.len();
                    #(#builders)*
                    for (__aq_key, __aq_state) in __aq_groups {
                        #(#appends)*
                    }
                    #rt::batch_from_columns(
                        <#output_ty as #rt::Record>::schema(),
                        ::std::vec![#(#finished),*],
                        __aq_n,
                    )
                })
            };
            #rt::HashAggregate::<(#(#key_types,)*), _>::new(#name, #whole, __aq_feed, __aq_init, __aq_merge, __aq_finish)
        }};
        (setup, Exchange::Exchange(exchange))
    }
}
