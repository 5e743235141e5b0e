//! Sinks ending a pipeline: `write_parquet(location)`, `write_csv(location)`,
//! `write_json(location)`, with `rows_per_file = N`, `bytes_per_file = N` and
//! `partition_by = column` or `(a, b)`. `write_parquet::<R>(..)` states the record the files
//! must hold, and the pipeline's output is checked against it.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checker, check_args};
use crate::plan::SinkNode;
use crate::schema::{Schema, path_text};
use crate::syntax::Call;
use crate::tokens::compact;
use crate::tokens::rt;

/// The names of the sinks, which may end a pipeline.
pub const NAMES: &[&str] = &["write_parquet", "write_csv", "write_json", "write_ipc"];

pub fn check(ck: &Checker, call: &Call, input: &Schema) -> Option<SinkNode> {
    let name = call.name.to_string();
    if !NAMES.contains(&name.as_str()) {
        super::unknown_stage(ck.cx, call, NAMES, "sink");
        return None;
    }
    let plain = Call {
        generics: Vec::new(),
        generics_tokens: None,
        ..call.clone()
    };
    let args_ok = check_args(
        ck.cx,
        &plain,
        &["location"],
        &["rows_per_file", "bytes_per_file", "partition_by", "mode"],
    );
    let mode = match call.named("mode") {
        None => None,
        Some(value) => Some(write_mode(ck, value)?),
    };
    let partition_by = match call.named("partition_by") {
        None => Vec::new(),
        Some(syn::Expr::Tuple(tuple)) => tuple
            .elems
            .iter()
            .map(|e| super::column_name(ck.cx, e, input))
            .collect::<Option<Vec<_>>>()?,
        Some(syn::Expr::Paren(single)) => vec![super::column_name(ck.cx, &single.expr, input)?],
        Some(single) => vec![super::column_name(ck.cx, single, input)?],
    };
    if !args_ok {
        return None;
    }
    if !partition_by.is_empty() && partition_by.len() >= input.columns.len() {
        ck.cx.error_spanned_by(
            call.named("partition_by"),
            "partitioning by every column leaves nothing to store in the files",
        );
        return None;
    }
    if name == "write_csv" {
        // CSV holds one scalar per field: say so here rather than when the first file is
        // written, an hour into the job.
        for column in &input.columns {
            let inner = match &column.ltype {
                crate::types::LType::Nullable(inner) => inner.as_ref(),
                other => other,
            };
            if matches!(
                inner,
                crate::types::LType::List(_)
                    | crate::types::LType::Binary
                    | crate::types::LType::Tensor(..)
            ) {
                ck.cx.error_spanned_by(
                    &call.name,
                    format!(
                        "CSV cannot hold column `{}` ({}): write parquet or JSON lines, or drop the column first",
                        column.name, column.ltype
                    ),
                );
                return None;
            }
        }
    }
    if let [ty] = call.generics.as_slice() {
        let path = super::closure::record_path(ty)?;
        let expected = ck.records.schema(&path)?;
        if !expected.same_columns(input) {
            ck.cx.error_spanned_by(
                ty,
                format!(
                    "`{name}` expects rows of `{}` ({}) but the pipeline produces {}",
                    path_text(&path),
                    expected.signature(),
                    input.signature()
                ),
            );
            return None;
        }
    }
    Some(SinkNode {
        method: call.name.clone(),
        location: call.positional().next()?.clone(),
        rows_per_file: call.named("rows_per_file").cloned(),
        bytes_per_file: call.named("bytes_per_file").cloned(),
        partition_by,
        mode,
        text: compact(quote!(#call)),
    })
}

/// `mode = overwrite` (a mode's name) or any expression of type `WriteMode`.
fn write_mode(ck: &Checker, value: &syn::Expr) -> Option<proc_macro2::TokenStream> {
    const MODES: [(&str, &str); 3] = [
        ("error_if_exists", "ErrorIfExists"),
        ("overwrite", "Overwrite"),
        ("append", "Append"),
    ];
    let syn::Expr::Path(path) = value else {
        return Some(quote!((#value)));
    };
    let Some(ident) = path.path.get_ident() else {
        return Some(quote!((#value)));
    };
    let name = ident.to_string();
    match MODES.iter().find(|(mode, _)| *mode == name) {
        Some((_, variant)) => {
            let variant = syn::Ident::new(variant, ident.span());
            Some(quote!(::aqueduct::__private::WriteMode::#variant))
        }
        // A name close to a mode's is a typo; any other is a Rust value of type `WriteMode`.
        None => match crate::ctxt::did_you_mean(&name, MODES.iter().map(|(m, _)| *m)) {
            Some(mode) => {
                ck.cx.error_spanned_by(
                    ident,
                    format!("unknown write mode `{name}`; did you mean `{mode}`?"),
                );
                None
            }
            None => Some(quote!((#value))),
        },
    }
}

/// A `Write` of `dataset` (tokens of the pipeline's `Dataset`), run when the user calls it.
pub fn lower(sink: &SinkNode, dataset: TokenStream) -> TokenStream {
    let rt = rt();
    let method = &sink.method;
    let location_expr = &sink.location;
    // Spanned at the argument: a value that is not a location is an error there.
    let location = quote::quote_spanned!(syn::spanned::Spanned::span(&sink.location)=> #rt::location(&#location_expr));
    let rows = match &sink.rows_per_file {
        Some(rows) => quote!(((#rows) as usize).max(1)),
        None => quote!(#rt::WriteOptions::default().rows_per_file),
    };
    let bytes = match &sink.bytes_per_file {
        Some(bytes) => quote!(::std::option::Option::Some((#bytes) as usize)),
        None => quote!(::std::option::Option::None),
    };
    let partition_by = &sink.partition_by;
    let mode = match &sink.mode {
        Some(mode) => mode.clone(),
        None => quote!(#rt::WriteOptions::default().mode),
    };
    let options = quote! {
        #rt::WriteOptions {
            rows_per_file: #rows,
            bytes_per_file: #bytes,
            partition_by: ::std::vec![#(::std::string::String::from(#partition_by)),*],
            mode: #mode,
        }
    };
    let format = match method.to_string().as_str() {
        "write_parquet" => quote!(#rt::WriteFormat::Parquet),
        "write_csv" => quote!(#rt::WriteFormat::Csv),
        "write_json" => quote!(#rt::WriteFormat::Json),
        "write_ipc" => quote!(#rt::WriteFormat::Ipc),
        other => unreachable!("`{other}` is no sink: `check` refuses it"),
    };
    quote! {
        #rt::Write::new(#dataset, #format, #location)
            .with_write_options(#options)
    }
}
