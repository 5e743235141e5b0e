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
    /// `Tensor<T, D0, D1, D2>`: a fixed shape of numbers (trailing dimensions 1).
    Tensor(Box<LType>, [usize; 3]),
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
                    "Tensor" => tensor(&last.arguments).unwrap_or_else(opaque),
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

    /// The element type and element count of a tensor.
    pub fn tensor(&self) -> Option<(&LType, usize)> {
        match self {
            LType::Tensor(elem, dims) => Some((elem, dims.iter().product())),
            _ => None,
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
            LType::Tensor(elem, [d0, d1, d2]) => {
                let elem = elem.rust_type()?;
                quote!(::aqueduct::__private::Tensor<#elem, #d0, #d1, #d2>)
            }
            LType::Opaque(_) => return None,
        })
    }
}

/// `Tensor<T, a, b, c>` with a numeric element type and literal dimensions.
fn tensor(arguments: &syn::PathArguments) -> Option<LType> {
    let syn::PathArguments::AngleBracketed(args) = arguments else {
        return None;
    };
    let mut args = args.args.iter();
    let Some(syn::GenericArgument::Type(elem)) = args.next() else {
        return None;
    };
    let elem = LType::of(elem);
    if !matches!(elem, LType::Int(_) | LType::Float(_)) {
        return None;
    }
    let mut dims = [1usize; 3];
    for (i, arg) in args.enumerate() {
        let syn::GenericArgument::Const(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(n),
            ..
        })) = arg
        else {
            return None;
        };
        *dims.get_mut(i)? = n.base10_parse().ok()?;
    }
    Some(LType::Tensor(Box::new(elem), dims))
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
            LType::Tensor(elem, [d0, d1, d2]) => match (d1, d2) {
                (1, 1) => write!(f, "Tensor<{elem}, {d0}>"),
                (_, 1) => write!(f, "Tensor<{elem}, {d0}, {d1}>"),
                _ => write!(f, "Tensor<{elem}, {d0}, {d1}, {d2}>"),
            },
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
        assert_eq!(
            of("Tensor<u8, 8, 8>"),
            LType::Tensor(Box::new(LType::Int("u8")), [8, 8, 1])
        );
        assert_eq!(of("Tensor<u8, 8, 8>").to_string(), "Tensor<u8, 8, 8>");
        assert_eq!(of("Tensor<u8, N>"), LType::Opaque("Tensor<u8,N>".into()));
    }
}
