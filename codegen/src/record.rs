//! `#[derive(Record)]`: the Arrow schema, typed columns, borrowing row views, conversions, and
//! the schema callback through which `pipeline!` learns the record's columns.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type, Visibility};

use crate::ctxt::Ctxt;

/// Expand `#[derive(Record)]` on `input`.
pub fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let cx = Ctxt::new();
    let fields = check(&cx, &input);
    if let Err(errors) = cx.check() {
        return errors;
    }
    let mut out = expand(&input.ident, &input.vis, &fields);
    out.extend(field_types(&input.ident, &fields));
    out.extend(schema_callback(&input.ident, &input.vis, &fields));
    out
}

/// The named fields of a plain struct; every other shape is an error at its token.
fn check(cx: &Ctxt, input: &DeriveInput) -> Vec<(Ident, Type)> {
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "a Record cannot be generic: its schema must be fixed at compile time",
        );
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named
                .named
                .iter()
                .filter_map(|f| f.ident.clone().map(|name| (name, f.ty.clone())))
                .collect(),
            other => {
                cx.error_spanned_by(other, "a Record needs named fields: each becomes a column");
                Vec::new()
            }
        },
        Data::Enum(data) => {
            cx.error_spanned_by(
                data.enum_token,
                "a Record must be a struct with named fields, not an enum",
            );
            Vec::new()
        }
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                "a Record must be a struct with named fields, not a union",
            );
            Vec::new()
        }
    };
    if let Data::Struct(data) = &input.data
        && matches!(data.fields, Fields::Named(_))
        && fields.is_empty()
    {
        cx.error_spanned_by(&input.ident, "a Record needs at least one field");
    }
    for (_, ty) in &fields {
        check_field_type(cx, ty);
    }
    fields
}

/// Types that are known not to map to a column are refused here, at the field, so the user
/// sees one error instead of every trait bound the implementation would miss. Other types
/// (aliases, paths the macro cannot resolve) are checked by the `Field` bound.
fn check_field_type(cx: &Ctxt, ty: &Type) {
    let unsupported = |why: &str| {
        let shown = crate::tokens::compact(quote!(#ty));
        cx.error_spanned_by(
            ty,
            format!("`{shown}` cannot be a column of a Record{why}; supported: i8..i64, u8..u64, f32, f64, bool, String, Vec<u8>, Option<T>, Vec<T>, [T; N], chrono::NaiveDate, chrono::NaiveDateTime, chrono::DateTime<Utc>"),
        );
    };
    match ty {
        Type::Reference(_) => unsupported(": a record owns its data (use `String` for `&str`)"),
        Type::Tuple(_) => unsupported(": use a nested list or separate fields"),
        Type::Path(path) => {
            let Some(last) = path.path.segments.last() else {
                return;
            };
            match last.ident.to_string().as_str() {
                "HashMap" | "BTreeMap" | "HashSet" | "BTreeSet" | "VecDeque" | "Box" | "Rc"
                | "Arc" | "Cow" => unsupported(""),
                "usize" | "isize" => {
                    unsupported(": use a fixed-width integer such as `u64` or `i64`")
                }
                "i128" | "u128" | "char" | "str" => unsupported(""),
                _ => {
                    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                        for arg in &args.args {
                            if let syn::GenericArgument::Type(inner) = arg {
                                check_field_type(cx, inner);
                            }
                        }
                    }
                }
            }
        }
        Type::Array(array) => check_field_type(cx, &array.elem),
        _ => {}
    }
}

/// The `Record` implementation and its companion types, for a struct named `name`.
pub fn expand(name: &Ident, vis: &Visibility, fields: &[(Ident, Type)]) -> TokenStream {
    let rt = crate::tokens::rt();
    let columns_ty = format_ident!("{}Columns", name);
    let ref_ty = format_ident!("{}Ref", name);
    let builder_ty = format_ident!("{}Builder", name);
    let names: Vec<&Ident> = fields.iter().map(|(n, _)| n).collect();
    let tys: Vec<&Type> = fields.iter().map(|(_, t)| t).collect();
    let name_strs: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let record_name = name.to_string();
    // Checked at each field's type, so an unsupported type is reported there.
    let assertions = tys.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            let _ = <#ty as #rt::Field>::data_type;
        }
    });
    let columns_doc = format!("Typed readers over the columns of a batch of [`{name}`] rows.");
    let ref_doc = format!("A borrowed row of [`{name}`]: strings and lists borrow from the batch.");
    quote! {
        #[doc = #columns_doc]
        #[derive(Clone, Copy)]
        #[allow(dead_code)]
        #vis struct #columns_ty<'a> {
            #( pub #names: <#tys as #rt::Field>::Reader<'a>, )*
            // Not `rows`: a record may have a field of that name.
            __aq_rows: usize,
        }

        #[doc = #ref_doc]
        #[derive(Clone, Copy)]
        #[allow(dead_code)]
        #vis struct #ref_ty<'a> {
            #( pub #names: <#tys as #rt::Field>::Ref<'a>, )*
        }

        #[doc(hidden)]
        #[allow(dead_code)]
        #vis struct #builder_ty {
            #( #names: <#tys as #rt::Field>::Builder, )*
            __aq_rows: usize,
        }

        impl #columns_ty<'_> {
            /// Number of rows.
            #[allow(dead_code)]
            pub fn len(&self) -> usize {
                self.__aq_rows
            }
            /// Whether there are no rows.
            #[allow(dead_code)]
            pub fn is_empty(&self) -> bool {
                self.__aq_rows == 0
            }
        }

        impl #rt::Record for #name {
            type Columns<'a> = #columns_ty<'a>;
            type Ref<'a> = #ref_ty<'a>;
            type Builder = #builder_ty;
            const NAME: &'static str = #record_name;

            fn schema() -> #rt::SchemaRef {
                #( #assertions )*
                static SCHEMA: ::std::sync::OnceLock<#rt::SchemaRef> = ::std::sync::OnceLock::new();
                SCHEMA
                    .get_or_init(|| {
                        ::std::sync::Arc::new(#rt::arrow::datatypes::Schema::new(::std::vec![
                            #( #rt::arrow::datatypes::Field::new(
                                #name_strs,
                                <#tys as #rt::Field>::data_type(),
                                <#tys as #rt::Field>::NULLABLE,
                            ), )*
                        ]))
                    })
                    .clone()
            }

            fn columns(batch: &#rt::RecordBatch) -> ::std::result::Result<#columns_ty<'_>, ::std::string::String> {
                ::std::result::Result::Ok(#columns_ty {
                    #( #names: #rt::bind_column::<#tys>(batch, #name_strs)?, )*
                    __aq_rows: batch.num_rows(),
                })
            }

            fn num_rows(columns: &#columns_ty<'_>) -> usize {
                columns.__aq_rows
            }

            fn row_ref<'a>(columns: &Self::Columns<'a>, i: usize) -> Self::Ref<'a> {
                #ref_ty {
                    #( #names: <#tys as #rt::Field>::get(columns.#names, i), )*
                }
            }

            fn row(columns: &#columns_ty<'_>, i: usize) -> Self {
                #name {
                    #( #names: <#tys as #rt::Field>::to_owned(<#tys as #rt::Field>::get(columns.#names, i)), )*
                }
            }

            fn builder(capacity: usize) -> #builder_ty {
                #builder_ty {
                    #( #names: <#tys as #rt::Field>::builder(capacity), )*
                    __aq_rows: 0,
                }
            }

            fn append(builder: &mut #builder_ty, row: &Self) {
                #( <#tys as #rt::Field>::append_owned(&mut builder.#names, &row.#names); )*
                builder.__aq_rows += 1;
            }

            fn finish(builder: &mut #builder_ty) -> #rt::RecordBatch {
                let rows = ::std::mem::take(&mut builder.__aq_rows);
                #rt::batch_from_columns(
                    <Self as #rt::Record>::schema(),
                    ::std::vec![ #( #rt::finish::<#tys>(&mut builder.#names), )* ],
                    rows,
                )
                .expect("builders of a record's own field types match its schema")
            }
        }
    }
}

/// `FieldType<I>` for each field, so generated code can name a field's type through the
/// record's path from anywhere the record is visible.
fn field_types(name: &Ident, fields: &[(Ident, Type)]) -> TokenStream {
    let impls = fields.iter().enumerate().map(|(index, (_, ty))| {
        quote! {
            impl ::aqueduct::__private::FieldType<#index> for #name {
                type Type = #ty;
            }
        }
    });
    quote!(#(#impls)*)
}

/// A `macro_rules!` named like the struct (in the macro namespace, so it travels with every
/// `use` of the struct) that hands the fields to `pipeline!`. A `pub` record's is exported
/// (`#[macro_export]`, under a name unique in the crate) so that other crates — a shared
/// `schemas` crate — can use the record in their pipelines.
fn schema_callback(name: &Ident, vis: &Visibility, fields: &[(Ident, Type)]) -> TokenStream {
    let names = fields.iter().map(|(n, _)| n);
    let tys = fields.iter().map(|(_, t)| t);
    let (macro_name, export, reexport) = match vis {
        Visibility::Inherited => (
            format_ident!("__aqueduct_schema_{}", name),
            quote!(),
            quote!(),
        ),
        Visibility::Public(_) => (
            format_ident!("__aqueduct_schema_{}_{}", name, unique_suffix()),
            quote!(#[macro_export]),
            quote!(pub),
        ),
        _ => (
            format_ident!("__aqueduct_schema_{}", name),
            quote!(),
            quote!(pub(crate)),
        ),
    };
    let dollar = proc_macro2::Punct::new('$', proc_macro2::Spacing::Alone);
    let collected = Ident::new(crate::schema::COLLECTED, Span::call_site());
    quote! {
        #[doc(hidden)]
        #[allow(unused_macros)]
        #export
        macro_rules! #macro_name {
            ({ #dollar(#dollar done:tt)* } [ #dollar(#dollar path:tt)* ] #dollar(#dollar rest:tt)*) => {
                ::aqueduct::pipeline! {
                    @#collected { #dollar(#dollar done)* [ #dollar(#dollar path)* ] { #( #names: #tys, )* } }
                    #dollar(#dollar rest)*
                }
            };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        #reexport use #macro_name as #name;
    }
}

/// A name part no other record of the crate has: exported macros share the crate's root.
fn unique_suffix() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
