//! Sources: `read_parquet::<R>(location)`, `read_csv::<R>(location, delimiter = b';',
//! header = true)`, `read_json::<R>(location)`, `read_text(location)` (column `text`),
//! `from_items::<R>(rows)`, `from_arrow::<R>(batches)`, `read_images::<R>(location, size =
//! (h, w))` (`R` has one column, `image: Tensor<T, h, w, channels>`) and
//! `read_binary_files::<R>(location)` (`R` has one column, `bytes: Vec<u8>`). File sources
//! take `include_paths = true` to add a `path` column.

use quote::quote;

use super::{Checker, check_args};
use crate::plan::{SourceKind, SourceNode, compact};
use crate::schema::{Column, Schema};
use crate::syntax::Call;
use crate::types::LType;

pub fn check(ck: &Checker, call: &Call) -> Option<(SourceNode, Schema)> {
    let name = call.name.to_string();
    let kind = match name.as_str() {
        "read_parquet" => SourceKind::Parquet,
        "read_csv" => SourceKind::Csv,
        "read_json" => SourceKind::Json,
        "read_text" => SourceKind::Text,
        "from_items" => SourceKind::Items,
        "from_arrow" => SourceKind::Arrow,
        "read_images" => SourceKind::Images,
        "read_binary_files" => SourceKind::BinaryFiles,
        _ => {
            super::unknown_stage(ck.cx, call, super::SOURCES, "source");
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
    let csv = ["delimiter", "header", "size"]
        .iter()
        .filter_map(|n| call.named(n).map(|e| (n.to_string(), e.clone())))
        .collect();
    let node = SourceNode {
        kind,
        record,
        input: call.positional().next()?.clone(),
        csv,
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
