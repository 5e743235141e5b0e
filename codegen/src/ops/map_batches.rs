//! `map_batches(f, batch_size = N)`: a user function over batches of at most N rows, taking a
//! raw `RecordBatch` or `Vec<Record>` and returning either (or a `Result` of either). The
//! output record comes from a type argument or the return type; without one, the function
//! keeps the input's columns. `args = (a, b)` passes extra arguments after the batch:
//! `f(batch, a, b)` (each cloned per call), as Ray's `fn_args` do; closures can also capture.
//!
//! `compute = actors(n)` (or `actors(min, max)`) makes it a stateful stage: the first argument
//! is a type implementing `Stateful`, each worker constructed once from `args` (Ray's
//! `fn_constructor_kwargs`). `compute = tasks(n)` bounds a function's concurrent calls.
//! `num_cpus`, `num_gpus` and `memory` say what each worker needs; a stage with `num_gpus`
//! runs on the CPU where there is no GPU unless it says `cpu_fallback = false`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Checker, Spec, check_args, closure};
use crate::emit::GeneratedRecords;
use crate::plan::{At, Kind, Operator};
use crate::schema::Schema;
use crate::syntax::Call;
use crate::tokens::rt;

pub const SPEC: Spec = Spec {
    name: "map_batches",
    type_args: true,
    check,
};

/// A user function over batches (`RecordBatch` or `Vec<Record>`), or a stateful type.
struct MapBatches {
    func: syn::Expr,
    batch_size: Option<syn::Expr>,
    /// Extra arguments passed after the batch (a function), or the constructor's arguments
    /// (a stateful type).
    args: Vec<syn::Expr>,
    /// The record the function takes, when not the input's own.
    input: Option<syn::Path>,
    /// `compute = actors(..)` or `tasks(n)`.
    compute: Option<Compute>,
    /// `num_cpus`, `num_gpus`, `memory` per worker.
    resources: Vec<(String, syn::Expr)>,
}

/// How a `map_batches` stage's calls are spread (see the runtime's `pool` module).
enum Compute {
    /// A stateful type: `actors(n)` or `actors(min, max)`.
    Actors { min: syn::Expr, max: syn::Expr },
    /// A function, at most n calls at once: `tasks(n)`.
    Tasks(syn::Expr),
}

fn check(ck: &Checker, call: &Call, input: &Schema, _: Option<Vec<String>>) -> Checked {
    if !check_args(
        ck.cx,
        call,
        &["f"],
        &[
            "batch_size",
            "args",
            "compute",
            "num_cpus",
            "num_gpus",
            "memory",
            "cpu_fallback",
        ],
    ) {
        return None;
    }
    let compute = match call.named("compute") {
        None => None,
        Some(expr) => Some(compute(ck, expr)?),
    };
    let resources: Vec<(String, syn::Expr)> = ["num_cpus", "num_gpus", "memory", "cpu_fallback"]
        .iter()
        .filter_map(|n| call.named(n).map(|e| (n.to_string(), e.clone())))
        .collect();
    let (func, record, output) = if let Some(Compute::Actors { .. }) = compute {
        let func = call.positional().next()?;
        if !matches!(func, syn::Expr::Path(_)) {
            ck.cx.error_spanned_by(
                func,
                "with `compute = actors(..)`, give the stateful type (implementing `Stateful`), not a value: `map_batches(Classifier, args = (..), compute = actors(2))`",
            );
            return None;
        }
        let declared = call.generics.first().and_then(closure::record_path);
        let output = match declared {
            Some(path) => ck.records.schema(&path)?,
            None => input.clone(),
        };
        (func, None, output)
    } else {
        batch_function(ck, call, input)?
    };
    Some((
        Box::new(MapBatches {
            func: func.clone(),
            batch_size: call.named("batch_size").cloned(),
            args: match call.named("args") {
                None => Vec::new(),
                Some(syn::Expr::Tuple(tuple)) => tuple.elems.iter().cloned().collect(),
                Some(syn::Expr::Paren(single)) => vec![(*single.expr).clone()],
                Some(other) => {
                    ck.cx.error_spanned_by(
                        other,
                        "`args` takes a tuple of extra arguments: `args = (a, b)`",
                    );
                    return None;
                }
            },
            input: record,
            compute,
            resources,
        }),
        output,
    ))
}

/// `actors(n)`, `actors(min, max)` or `tasks(n)`.
fn compute(ck: &Checker, expr: &syn::Expr) -> Option<Compute> {
    let usage = "`compute` takes `actors(n)`, `actors(min, max)` or `tasks(n)`";
    let syn::Expr::Call(call) = expr else {
        ck.cx.error_spanned_by(expr, usage);
        return None;
    };
    let name = match &*call.func {
        syn::Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    };
    let args: Vec<&syn::Expr> = call.args.iter().collect();
    match (name.as_deref(), args.as_slice()) {
        (Some("actors"), [n]) => Some(Compute::Actors {
            min: (*n).clone(),
            max: (*n).clone(),
        }),
        (Some("actors"), [min, max]) => Some(Compute::Actors {
            min: (*min).clone(),
            max: (*max).clone(),
        }),
        (Some("tasks"), [n]) => Some(Compute::Tasks((*n).clone())),
        _ => {
            ck.cx.error_spanned_by(expr, usage);
            None
        }
    }
}

/// A function over batches (`map_batches`, `map_groups`): the function, the record it takes
/// (when not the input's own) and the schema it produces.
pub(super) fn batch_function<'a>(
    ck: &Checker,
    call: &'a Call,
    input: &Schema,
) -> Option<(&'a syn::Expr, Option<syn::Path>, Schema)> {
    let op = call.name.to_string();
    let func = call.positional().next()?;
    if call.generics.len() > 1 {
        ck.cx.error_spanned_by(
            &call.generics_tokens,
            format!("`{op}` takes one type argument: the record it produces"),
        );
        return None;
    }
    let declared = call
        .generics
        .first()
        .or_else(|| closure::return_type(func))
        .and_then(closure::record_path);
    let output = match declared {
        Some(path) => ck.records.schema(&path)?,
        None => input.clone(),
    };
    let record = closure::input_record(ck, &op, func, input).ok()?;
    Some((func, record, output))
}

impl Operator for MapBatches {
    fn kind(&self) -> Kind {
        // Batches are cut to size across blocks: a runtime stage of its own.
        Kind::Alone
    }

    fn alone(&self, at: &At, records: &mut GeneratedRecords) -> (TokenStream, TokenStream) {
        let rt = rt();
        let MapBatches {
            func,
            batch_size,
            args,
            input,
            compute,
            resources,
        } = self;
        let input_ty = records.type_of(at.input, input.as_ref());
        let output_ty = records.type_of(at.output, None);
        let size = match batch_size {
            Some(size) => quote!(::std::option::Option::Some((#size) as usize)),
            None => quote!(::std::option::Option::None),
        };
        let name = at.text;
        let needs_resources = !resources.is_empty();
        let resources = {
            let get = |n: &str| resources.iter().find(|(k, _)| k == n).map(|(_, e)| e);
            let some = |e: Option<&syn::Expr>, ty: TokenStream| match e {
                Some(e) => quote!(::std::option::Option::Some((#e) as #ty)),
                None => quote!(::std::option::Option::None),
            };
            let (cpus, gpus, memory) = (
                some(get("num_cpus"), quote!(f64)),
                some(get("num_gpus"), quote!(f64)),
                some(get("memory"), quote!(usize)),
            );
            let cpu_fallback = match get("cpu_fallback") {
                Some(e) => quote!((#e) as bool),
                None => quote!(true),
            };
            quote!(#rt::Resources { cpus: #cpus, gpus: #gpus, memory: #memory, cpu_fallback: #cpu_fallback })
        };
        if let Some(Compute::Actors { min, max }) = compute {
            let constructor_args = match args.as_slice() {
                [] => quote!(()),
                [one] => quote!(#one),
                many => quote!((#(#many,)*)),
            };
            let stage = quote! {
                #rt::Stage::Pooled {
                    name: #name.into(),
                    batch_size: #size,
                    spec: #rt::stateful_pool::<#input_ty, #output_ty, #func>(
                        #constructor_args,
                        #rt::Compute::Actors { min: (#min) as usize, max: (#max) as usize },
                        #resources,
                    ),
                }
            };
            return (quote!(), stage);
        }
        let func = if args.is_empty() {
            quote!(#func)
        } else {
            let fields = (0..args.len()).map(syn::Index::from);
            quote! {{
                let __aq_args = (#(#args,)*);
                let __aq_user = #func;
                move |__aq_batch| __aq_user(__aq_batch, #(::std::clone::Clone::clone(&__aq_args.#fields)),*)
            }}
        };
        let block_fn = quote!(#rt::batch_fn::<#input_ty, #output_ty, _, _, _>(#func));
        let stage = match compute {
            Some(Compute::Tasks(n)) => quote! {
                #rt::Stage::Pooled {
                    name: #name.into(),
                    batch_size: #size,
                    spec: #rt::task_pool(#block_fn, #rt::Compute::Tasks((#n) as usize), #resources),
                }
            },
            _ if needs_resources => quote! {
                #rt::Stage::Pooled {
                    name: #name.into(),
                    batch_size: #size,
                    spec: #rt::task_pool(#block_fn, #rt::Compute::Tasks(usize::MAX), #resources),
                }
            },
            _ => quote! {
                #rt::Stage::MapBatches {
                    name: #name.into(),
                    batch_size: #size,
                    func: ::std::sync::Arc::new(#block_fn),
                }
            },
        };
        (quote!(), stage)
    }
}
