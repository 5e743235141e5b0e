//! Column types as the compiler sees them, classified from the Rust types of record fields.

use std::fmt;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// The logical type of a column or expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LType {
    /// A signed (`i8`..`i64`) or unsigned (`u8`..`u64`) integer, by name.
    Int(&'static str),
    /// `f32` or `f64`.
    Float(&'static str),
    /// `bool`.
    Bool,
    /// `String` (read as `&str`).
    Str,
    /// `Vec<u8>` (read as `&[u8]`).
    Binary,
    /// A chrono date or timestamp type, by name.
    Temporal(&'static str),
    /// `Vec<T>` or `[T; N]`.
    List(Box<LType>),
    /// `Option<T>`.
    Nullable(Box<LType>),
    /// An integer literal, not yet given a type.
    IntLiteral,
    /// A float literal, not yet given a type.
    FloatLiteral,
    /// A type the compiler does not interpret (a user function's result, a type alias): rustc
    /// checks its uses.
    Opaque(String),
}

const INTS: [&str; 8] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"];
const FLOATS: [&str; 2] = ["f32", "f64"];

impl LType {
    /// Classify a record field's Rust type.
    pub fn of(ty: &syn::Type) -> LType {
        let opaque = || LType::Opaque(ty.to_token_stream().to_string().replace(' ', ""));
        match ty {
            syn::Type::Path(path) if path.qself.is_none() => {
                let Some(last) = path.path.segments.last() else {
                    return opaque();
                };
                let name = last.ident.to_string();
                let inner = || match &last.arguments {
                    syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                        Some(syn::GenericArgument::Type(t)) if args.args.len() == 1 => Some(t),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(int) = INTS.iter().find(|i| **i == name) {
                    return LType::Int(int);
                }
                if let Some(float) = FLOATS.iter().find(|f| **f == name) {
                    return LType::Float(float);
                }
                match name.as_str() {
                    "bool" => LType::Bool,
                    "String" => LType::Str,
                    "NaiveDate" => LType::Temporal("NaiveDate"),
                    "NaiveDateTime" => LType::Temporal("NaiveDateTime"),
                    "DateTime" => LType::Temporal("DateTime<Utc>"),
                    "Option" => {
                        inner().map_or_else(opaque, |t| LType::Nullable(Box::new(LType::of(t))))
                    }
                    "Vec" => match inner().map(LType::of) {
                        Some(LType::Int("u8")) => LType::Binary,
                        Some(item) => LType::List(Box::new(item)),
                        None => opaque(),
                    },
                    _ => opaque(),
                }
            }
            syn::Type::Array(array) => LType::List(Box::new(LType::of(&array.elem))),
            _ => opaque(),
        }
    }

    /// Whether values are `Copy` when read (numbers, bools, dates).
    pub fn is_copy(&self) -> bool {
        match self {
            LType::Int(_) | LType::Float(_) | LType::Bool | LType::Temporal(_) => true,
            LType::IntLiteral | LType::FloatLiteral => true,
            LType::Nullable(inner) => inner.is_copy(),
            _ => false,
        }
    }

    /// Whether arithmetic applies.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            LType::Int(_) | LType::Float(_) | LType::IntLiteral | LType::FloatLiteral
        )
    }

    /// The Rust type of a column holding this type, for generated records; `None` for
    /// literals and opaque types, which need an annotation.
    pub fn rust_type(&self) -> Option<TokenStream> {
        Some(match self {
            LType::Int(name) | LType::Float(name) => {
                let ident = syn::Ident::new(name, proc_macro2::Span::call_site());
                quote!(#ident)
            }
            LType::IntLiteral => quote!(i64),
            LType::FloatLiteral => quote!(f64),
            LType::Bool => quote!(bool),
            LType::Str => quote!(::std::string::String),
            LType::Binary => quote!(::std::vec::Vec<u8>),
            LType::Temporal("NaiveDate") => quote!(::aqueduct::__private::chrono::NaiveDate),
            LType::Temporal("NaiveDateTime") => {
                quote!(::aqueduct::__private::chrono::NaiveDateTime)
            }
            LType::Temporal(_) => {
                quote!(::aqueduct::__private::chrono::DateTime<::aqueduct::__private::chrono::Utc>)
            }
            LType::List(item) => {
                let item = item.rust_type()?;
                quote!(::std::vec::Vec<#item>)
            }
            LType::Nullable(inner) => {
                let inner = inner.rust_type()?;
                quote!(::std::option::Option<#inner>)
            }
            LType::Opaque(_) => return None,
        })
    }
}

impl fmt::Display for LType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LType::Int(name) | LType::Float(name) | LType::Temporal(name) => f.write_str(name),
            LType::Bool => f.write_str("bool"),
            LType::Str => f.write_str("String"),
            LType::Binary => f.write_str("Vec<u8>"),
            LType::List(item) => write!(f, "Vec<{item}>"),
            LType::Nullable(inner) => write!(f, "Option<{inner}>"),
            LType::IntLiteral => f.write_str("integer"),
            LType::FloatLiteral => f.write_str("float"),
            LType::Opaque(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(ty: &str) -> LType {
        LType::of(&syn::parse_str(ty).unwrap())
    }

    #[test]
    fn classifies_field_types() {
        assert_eq!(of("i64"), LType::Int("i64"));
        assert_eq!(of("Option<String>"), LType::Nullable(Box::new(LType::Str)));
        assert_eq!(of("Vec<u8>"), LType::Binary);
        assert_eq!(of("[f32; 4]"), LType::List(Box::new(LType::Float("f32"))));
        assert_eq!(of("chrono::NaiveDate"), LType::Temporal("NaiveDate"));
        assert_eq!(of("Price"), LType::Opaque("Price".into()));
    }
}
