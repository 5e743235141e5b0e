//! Records generated for intermediate columns that are no declared record (after
//! `with_column`, `select`, ...): one struct per distinct set of columns, with its `Record`
//! implementation, so every point of a pipeline has a Rust row type.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::schema::Schema;

/// The generated records of one pipeline.
#[derive(Default)]
pub struct GeneratedRecords {
    generated: Vec<(String, syn::Ident, TokenStream)>,
}

impl GeneratedRecords {
    /// The Rust type of rows with `schema`'s columns: `declared` when given, the schema's own
    /// record, or a generated one.
    pub fn type_of(&mut self, schema: &Schema, declared: Option<&syn::Path>) -> TokenStream {
        if let Some(path) = declared.or(schema.record.as_ref()) {
            return quote!(#path);
        }
        let key: String = schema
            .columns
            .iter()
            .map(|c| format!("{}:{};", c.name, c.ty))
            .collect();
        if let Some((_, ident, _)) = self.generated.iter().find(|(k, _, _)| *k == key) {
            return quote!(#ident);
        }
        let ident = format_ident!("AqueductRow{}", self.generated.len());
        let fields: Vec<(syn::Ident, syn::Type)> = schema
            .columns
            .iter()
            .map(|c| {
                let ty = &c.ty;
                (format_ident!("{}", c.name), syn::parse_quote!(#ty))
            })
            .collect();
        let names = fields.iter().map(|(n, _)| n);
        let tys = fields.iter().map(|(_, t)| t);
        let vis: syn::Visibility = syn::parse_quote!(pub);
        let implementation = crate::record::expand(&ident, &vis, &fields);
        let definition = quote! {
            /// Rows of an intermediate result of a pipeline.
            #[derive(Debug, Clone, PartialEq)]
            pub struct #ident {
                #( pub #names: #tys, )*
            }
            #implementation
        };
        self.generated.push((key, ident.clone(), definition));
        quote!(#ident)
    }

    /// The definitions of every generated record.
    pub fn definitions(&self) -> TokenStream {
        let definitions = self.generated.iter().map(|(_, _, d)| d);
        quote!(#(#definitions)*)
    }
}
