//! The source of the runtime plan.

use proc_macro2::TokenStream;
use quote::quote;

use crate::plan::{Plan, SourceKind};
use crate::schema::path_text;

/// Tokens building an `Arc<dyn Source>`.
pub fn emit(plan: &Plan) -> TokenStream {
    let rt = quote!(::aqueduct::__private);
    let source = &plan.source;
    let input = &source.input;
    // Spanned at the argument: a value that is not a location is an error there.
    let location = quote::quote_spanned!(syn::spanned::Spanned::span(input)=> ::aqueduct::__private::location(&#input));
    let record = source.record.as_ref();
    let record_name = record.map(path_text).unwrap_or_else(|| "text".to_owned());
    let format = match source.kind {
        SourceKind::Parquet => quote!(#rt::FileFormat::Parquet),
        SourceKind::Json => quote!(#rt::FileFormat::Json),
        SourceKind::Text => quote!(#rt::FileFormat::Text),
        SourceKind::Csv => {
            let option = |name: &str, default: TokenStream| {
                source
                    .csv
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
            let size = match source.csv.iter().find(|(n, _)| n == "size") {
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
    let predicates = source.predicates.iter().map(|p| &p.tokens);
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
