//! Sources: `read_parquet::<R>(location)`, `read_csv::<R>(location, delimiter = b';',
//! header = true)`, `read_json::<R>(location)`, `read_ipc::<R>(location)` (Arrow IPC files),
//! `read_text(location)` (column `text`),
//! `from_items::<R>(rows)`, `from_arrow::<R>(batches)`, `read_images::<R>(location, size =
//! (h, w))` (`R` has one column, `image: Tensor<T, h, w, channels>`) and
//! `read_binary_files::<R>(location)` (`R` has one column, `bytes: Vec<u8>`). File sources
//! take `include_paths = true` to add a `path` column.

use quote::quote;

use proc_macro2::TokenStream;

use super::{Checker, check_args};
use crate::plan::{Comparison, Pushed, Scalar, SourceKind, SourceNode};
use crate::schema::{Column, Schema, path_text};
use crate::syntax::Call;
use crate::tokens::compact;
use crate::tokens::rt;
use crate::types::LType;

/// The names of the sources.
pub const NAMES: &[&str] = &[
    "read_parquet",
    "read_csv",
    "read_json",
    "read_ipc",
    "read_text",
    "from_items",
    "from_arrow",
    "read_images",
    "read_binary_files",
];

pub fn check(ck: &Checker, call: &Call) -> Option<(SourceNode, Schema)> {
    let name = call.name.to_string();
    let kind = match name.as_str() {
        "read_parquet" => SourceKind::Parquet,
        "read_csv" => SourceKind::Csv,
        "read_json" => SourceKind::Json,
        "read_ipc" => SourceKind::Ipc,
        "read_text" => SourceKind::Text,
        "from_items" => SourceKind::Items,
        "from_arrow" => SourceKind::Arrow,
        "read_images" => SourceKind::Images,
        "read_binary_files" => SourceKind::BinaryFiles,
        _ => {
            super::unknown_stage(ck.cx, call, NAMES, "source");
            return None;
        }
    };
    let (positional, named): (&[&str], &[&str]) = match kind {
        SourceKind::Csv => (
            &["location"],
            &[
                "delimiter",
                "header",
                "include_paths",
                "shuffle",
                "seed",
                "require_success",
            ],
        ),
        SourceKind::Items => (&["rows"], &[]),
        SourceKind::Images => (&["location"], &["include_paths", "size"]),
        SourceKind::BinaryFiles => (&["location"], &["include_paths"]),
        SourceKind::Arrow => (&["batches"], &[]),
        _ => (
            &["location"],
            &["include_paths", "shuffle", "seed", "require_success"],
        ),
    };
    // Sources take their record as a type argument, which `check_args` refuses for stages.
    let args_ok = check_args(ck.cx, &without_generics(call), positional, named);
    let record = match (kind, call.generics.as_slice()) {
        (SourceKind::Text, []) => None,
        (SourceKind::Text, _) => {
            ck.cx.error_spanned_by(
                &call.generics_tokens,
                "`read_text` has a fixed record: one `text: String` column",
            );
            return None;
        }
        (_, [ty]) => match super::closure::record_path(ty) {
            Some(path) => Some(path),
            None => {
                ck.cx
                    .error_spanned_by(ty, "expected the record type the source reads");
                return None;
            }
        },
        _ => {
            ck.cx.error_spanned_by(
                &call.name,
                format!("`{name}` needs the record it reads: `{name}::<MyRecord>(..)`"),
            );
            return None;
        }
    };
    // Argument errors are reported; later stages are still checked against the record.
    let _ = args_ok;
    let mut schema = match &record {
        Some(path) => ck.records.schema(path)?,
        None => Schema {
            record: None,
            columns: vec![Column {
                name: "text".into(),
                ty: quote!(::std::string::String),
                ltype: LType::Str,
            }],
        },
    };
    // Whole-file sources fill one column of a fixed name.
    let whole_file = match kind {
        SourceKind::Images => Some(("image", "`image: Tensor<u8, height, width, channels>`")),
        SourceKind::BinaryFiles => Some(("bytes", "`bytes: Vec<u8>`")),
        _ => None,
    };
    if let Some((column, declaration)) = whole_file
        && (schema.columns.len() != 1 || schema.columns[0].name != column)
    {
        ck.cx.error_spanned_by(
            &call.generics_tokens,
            format!(
                "`{name}` fills one column: the record must have exactly {declaration} (add `include_paths = true` for the file's path), but it is {}",
                schema.signature()
            ),
        );
        return None;
    }
    let include_paths = match call.named("include_paths") {
        None => false,
        Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Bool(b),
            ..
        })) => b.value,
        Some(other) => {
            ck.cx.error_spanned_by(
                other,
                "`include_paths` must be `true` or `false`: it decides the columns at compile time",
            );
            return None;
        }
    };
    if include_paths {
        if schema.column("path").is_some() {
            ck.cx.error_spanned_by(
                call.named("include_paths"),
                "the record already has a column `path`",
            );
            return None;
        }
        schema.record = None;
        schema.columns.push(Column {
            name: "path".into(),
            ty: quote!(::std::string::String),
            ltype: LType::Str,
        });
    }
    // `shuffle = files`: read the files in a random order (seeded by `seed = n`, else new
    // each run), as Ray Data's `shuffle="files"` does.
    let shuffle = match call.named("shuffle") {
        None => {
            if let Some(seed) = call.named("seed") {
                ck.cx
                    .error_spanned_by(seed, "`seed` goes with `shuffle = files`");
                return None;
            }
            None
        }
        Some(syn::Expr::Path(p)) if p.path.is_ident("files") => Some(
            call.named("seed")
                .cloned()
                .unwrap_or_else(|| syn::parse_quote!(::aqueduct::__private::random_seed())),
        ),
        Some(other) => {
            ck.cx.error_spanned_by(
                other,
                "`shuffle` takes `files`: `shuffle = files` reads the files in a random order",
            );
            return None;
        }
    };
    let format_options = ["delimiter", "header", "size"]
        .iter()
        .filter_map(|n| call.named(n).map(|e| (n.to_string(), e.clone())))
        .collect();
    let node = SourceNode {
        kind,
        record,
        input: call.positional().next()?.clone(),
        format_options,
        include_paths,
        shuffle,
        require_success: call.named("require_success").cloned(),
        columns: schema
            .columns
            .iter()
            .map(|c| c.name.clone())
            .filter(|n| !(include_paths && n == "path"))
            .collect(),
        text: compact(quote!(#call)),
        predicates: Vec::new(),
        dictionary: Vec::new(),
    };
    Some((node, schema))
}

fn without_generics(call: &Call) -> Call {
    Call {
        generics: Vec::new(),
        generics_tokens: None,
        ..call.clone()
    }
}

/// Tokens building an `Arc<dyn Source>`.
pub fn lower(source: &SourceNode) -> TokenStream {
    let rt = rt();
    let input = &source.input;
    // Spanned at the argument: a value that is not a location is an error there.
    let location = quote::quote_spanned!(syn::spanned::Spanned::span(input)=> ::aqueduct::__private::location(&#input));
    let record = source.record.as_ref();
    let record_name = record.map(path_text).unwrap_or_else(|| "text".to_owned());
    let format = match source.kind {
        SourceKind::Parquet => quote!(#rt::FileFormat::Parquet),
        SourceKind::Json => quote!(#rt::FileFormat::Json),
        SourceKind::Ipc => quote!(#rt::FileFormat::Ipc),
        SourceKind::Text => quote!(#rt::FileFormat::Text),
        SourceKind::Csv => {
            let option = |name: &str, default: TokenStream| {
                source
                    .format_options
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, e)| quote!(#e))
                    .unwrap_or(default)
            };
            let delimiter = option("delimiter", quote!(b','));
            let header = option("header", quote!(true));
            quote!(#rt::FileFormat::Csv(#rt::CsvOptions { delimiter: #delimiter, header: #header }))
        }
        SourceKind::Items => {
            return quote!(::std::sync::Arc::new(#rt::MemorySource::from_items::<#record>(#input)));
        }
        SourceKind::Arrow => {
            return quote!(::std::sync::Arc::new(#rt::MemorySource::from_arrow::<#record>(#input)));
        }
        SourceKind::Images | SourceKind::BinaryFiles => {
            let include_paths = source.include_paths;
            let schema = quote!(<#record as #rt::Record>::schema());
            let schema = if include_paths {
                quote!(#rt::with_path_column(&#schema))
            } else {
                schema
            };
            if source.kind == SourceKind::BinaryFiles {
                return quote! {
                    ::std::sync::Arc::new(#rt::FilesSource::binary(#location, #record_name, #schema, #include_paths))
                };
            }
            let size = match source.format_options.iter().find(|(n, _)| n == "size") {
                Some((_, size)) => quote! {{
                    let (__aq_h, __aq_w) = #size;
                    ::std::option::Option::Some((__aq_h as u32, __aq_w as u32))
                }},
                None => quote!(::std::option::Option::None),
            };
            return quote! {
                ::std::sync::Arc::new(
                    #rt::FilesSource::images(
                        #location,
                        #record_name,
                        #schema,
                        <<#record as #rt::FieldType<0>>::Type as #rt::Field>::tensor_shape(),
                        #size,
                        #include_paths,
                    ),
                )
            };
        }
    };
    let schema = match record {
        Some(record) => quote!(<#record as #rt::Record>::schema()),
        None => quote!(#rt::text_schema()),
    };
    let columns = &source.columns;
    let include_paths = source.include_paths;
    let predicates = source.predicates.iter().map(predicate);
    let dictionary = &source.dictionary;
    let dictionary =
        (!dictionary.is_empty()).then(|| quote!(.with_dictionary(&[#(#dictionary),*])));
    let shuffle = source
        .shuffle
        .as_ref()
        .map(|seed| quote!(.with_file_shuffle((#seed) as u64)));
    let require_success = source
        .require_success
        .as_ref()
        .map(|required| quote!(.with_required_success((#required) as bool)));
    quote! {
        ::std::sync::Arc::new(
            #rt::FileSource::new(
                #location,
                #format,
                #record_name,
                #rt::project(&#schema, &[#(#columns),*]),
                #include_paths,
            )
            .with_predicates(::std::vec![#(#predicates),*])
            #shuffle
            #require_success
            #dictionary,
        )
    }
}

/// Tokens building the runtime `Predicate` of a pushed-down comparison.
pub(crate) fn predicate(pushed: &Pushed) -> TokenStream {
    let rt = rt();
    let column = &pushed.column;
    let op = match pushed.op {
        Comparison::Lt => quote!(#rt::CmpOp::Lt),
        Comparison::Le => quote!(#rt::CmpOp::Le),
        Comparison::Gt => quote!(#rt::CmpOp::Gt),
        Comparison::Ge => quote!(#rt::CmpOp::Ge),
        Comparison::Eq => quote!(#rt::CmpOp::Eq),
    };
    let value = match &pushed.value {
        Scalar::Int(v) if *v < 0 => {
            let magnitude = v.unsigned_abs() as i64;
            quote!(#rt::Scalar::Int(- #magnitude))
        }
        Scalar::Int(v) => quote!(#rt::Scalar::Int(#v)),
        Scalar::Float(v) if v.is_sign_negative() => {
            let magnitude = -v;
            quote!(#rt::Scalar::Float(- #magnitude))
        }
        Scalar::Float(v) => quote!(#rt::Scalar::Float(#v)),
        Scalar::Str(v) => quote!(#rt::Scalar::Str(::std::string::String::from(#v))),
        Scalar::Bool(v) => quote!(#rt::Scalar::Bool(#v)),
    };
    quote!(#rt::Predicate::new(#column, #op, #value))
}
