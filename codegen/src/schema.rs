//! Schemas the compiler tracks through a pipeline: the records' columns (handed over by each
//! record's derive through the schema callback) and the columns of intermediate results.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Token, braced, bracketed};

use crate::types::LType;

/// One column: its name, its Rust type (tokens valid at the pipeline's call site) and its
/// logical type.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub ty: TokenStream,
    pub ltype: LType,
}

/// The columns at one point of a pipeline, and the record they are, if they are exactly a
/// declared record's.
#[derive(Clone, Debug)]
pub struct Schema {
    pub record: Option<syn::Path>,
    pub columns: Vec<Column>,
}

impl Schema {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Column names, for hints.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// What to call this schema in messages: the record's name or `{a, b, c}`.
    pub fn describe(&self) -> String {
        match &self.record {
            Some(path) => format!("`{}`", path_text(path)),
            None => format!("{{{}}}", self.names().collect::<Vec<_>>().join(", ")),
        }
    }

    /// `{name: type, ...}` for explain output.
    pub fn signature(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{}: {}", c.name, c.ltype))
            .collect();
        match &self.record {
            Some(path) => format!("{} {{{}}}", path_text(path), columns.join(", ")),
            None => format!("{{{}}}", columns.join(", ")),
        }
    }

    /// Whether both have the same column names and logical types, in any order.
    pub fn same_columns(&self, other: &Schema) -> bool {
        self.columns.len() == other.columns.len()
            && self
                .columns
                .iter()
                .all(|c| other.column(&c.name).is_some_and(|o| o.ltype == c.ltype))
    }
}

/// A path as the user wrote it, without spaces: `records::Sale`.
pub fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// The schemas of the records a pipeline names, as collected through the callbacks.
#[derive(Default)]
pub struct Records {
    by_path: HashMap<String, Vec<(Ident, syn::Type)>>,
}

impl Records {
    /// Whether `path`'s schema has been handed over.
    pub fn contains(&self, path: &syn::Path) -> bool {
        self.by_path.contains_key(&path_text(path))
    }

    /// The schema of record `path`, if collected. Column types are written as projections
    /// through the record (`<Sale as FieldType<0>>::Type`), valid wherever `path` is.
    pub fn schema(&self, path: &syn::Path) -> Option<Schema> {
        let fields = self.by_path.get(&path_text(path))?;
        let columns = fields
            .iter()
            .enumerate()
            .map(|(index, (name, ty))| Column {
                name: name.to_string(),
                ty: quote!(<#path as ::aqueduct::__private::FieldType<#index>>::Type),
                ltype: LType::of(ty),
            })
            .collect();
        Some(Schema {
            record: Some(path.clone()),
            columns,
        })
    }
}

/// The `@aqueduct_schemas { [path] { field: Type, ... } ... }` prefix the callbacks build.
pub struct Collected {
    pub tokens: TokenStream,
    pub records: Records,
}

impl Parse for Collected {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        braced!(content in input);
        let tokens: TokenStream = content.fork().parse()?;
        let mut records = Records::default();
        while !content.is_empty() {
            let path_content;
            bracketed!(path_content in content);
            let path: syn::Path = path_content.parse()?;
            let fields_content;
            braced!(fields_content in content);
            let mut fields = Vec::new();
            while !fields_content.is_empty() {
                let name: Ident = fields_content.parse()?;
                fields_content.parse::<Token![:]>()?;
                let ty: syn::Type = fields_content.parse()?;
                fields.push((name, ty));
                if !fields_content.is_empty() {
                    fields_content.parse::<Token![,]>()?;
                }
            }
            records.by_path.insert(path_text(&path), fields);
        }
        Ok(Collected { tokens, records })
    }
}

/// The keyword introducing collected schemas.
pub const COLLECTED: &str = "aqueduct_schemas";
