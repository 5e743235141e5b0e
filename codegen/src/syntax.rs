//! The DSL's syntax tree: `source |> stage |> ...`, each stage a call with optional generic
//! arguments, positional arguments and named arguments (`batch_size = 64`,
//! `revenue: f64 = price * 2.0`). Every node keeps its tokens for error spans.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token, Type, parenthesized};

/// A whole pipeline.
pub struct Pipeline {
    pub stages: Vec<Call>,
}

/// One stage: `name::<Generics>(args)`.
#[derive(Clone)]
pub struct Call {
    pub name: Ident,
    pub generics: Vec<Type>,
    pub generics_tokens: Option<TokenStream>,
    pub args: Vec<Arg>,
    /// The parenthesised argument list, for errors about missing arguments.
    pub paren_span: proc_macro2::Span,
}

/// One argument of a stage.
#[derive(Clone)]
pub enum Arg {
    /// `expr`
    Positional(Expr),
    /// `name = expr` or `name: Type = expr`
    Named {
        name: Ident,
        ty: Option<Box<Type>>,
        value: Expr,
    },
}

impl Arg {
    /// The tokens of the whole argument.
    pub fn tokens(&self) -> TokenStream {
        self.to_token_stream()
    }
}

impl ToTokens for Arg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Arg::Positional(e) => e.to_tokens(tokens),
            Arg::Named { name, ty, value } => {
                name.to_tokens(tokens);
                if let Some(ty) = ty {
                    tokens.extend(quote::quote!(: #ty));
                }
                tokens.extend(quote::quote!(= #value));
            }
        }
    }
}

impl ToTokens for Call {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.name.to_tokens(tokens);
        if let Some(generics) = &self.generics_tokens {
            generics.to_tokens(tokens);
        }
        let args = &self.args;
        let mut group = proc_macro2::Group::new(
            proc_macro2::Delimiter::Parenthesis,
            quote::quote!(#(#args),*),
        );
        group.set_span(self.paren_span);
        tokens.extend([proc_macro2::TokenTree::Group(group)]);
    }
}

impl Parse for Pipeline {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut stages = vec![input.parse::<Call>()?];
        while !input.is_empty() {
            if !(input.peek(Token![|]) && input.peek2(Token![>])) {
                return Err(input.error("expected `|>` between stages"));
            }
            input.parse::<Token![|]>()?;
            input.parse::<Token![>]>()?;
            stages.push(input.parse()?);
        }
        Ok(Pipeline { stages })
    }
}

impl Parse for Call {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse().map_err(|e| {
            syn::Error::new(e.span(), "expected a stage name, such as `filter` or `map`")
        })?;
        let mut generics = Vec::new();
        let mut generics_tokens = None;
        if input.peek(Token![::]) {
            let args: syn::AngleBracketedGenericArguments = input.parse()?;
            generics_tokens = Some(args.to_token_stream());
            for arg in args.args {
                match arg {
                    syn::GenericArgument::Type(ty) => generics.push(ty),
                    other => return Err(syn::Error::new_spanned(other, "expected a type")),
                }
            }
        }
        let content;
        let paren = parenthesized!(content in input);
        let args = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?;
        Ok(Call {
            name,
            generics,
            generics_tokens,
            args: args.into_iter().collect(),
            paren_span: paren.span.join(),
        })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let named = input.peek(Ident)
            && ((input.peek2(Token![=]) && !input.peek2(Token![==]) && !input.peek2(Token![=>]))
                || (input.peek2(Token![:]) && !input.peek2(Token![::])));
        if named {
            let name: Ident = input.parse()?;
            let ty = if input.parse::<Option<Token![:]>>()?.is_some() {
                Some(Box::new(input.parse::<Type>()?))
            } else {
                None
            };
            input.parse::<Token![=]>()?;
            let value = input.parse()?;
            return Ok(Arg::Named { name, ty, value });
        }
        Ok(Arg::Positional(input.parse()?))
    }
}

impl Call {
    /// The positional arguments.
    pub fn positional(&self) -> impl Iterator<Item = &Expr> {
        self.args.iter().filter_map(|a| match a {
            Arg::Positional(e) => Some(e),
            Arg::Named { .. } => None,
        })
    }

    /// The named argument `name`, if given.
    pub fn named(&self, name: &str) -> Option<&Expr> {
        self.args.iter().find_map(|a| match a {
            Arg::Named { name: n, value, .. } if n == name => Some(value),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chain_with_generics_and_named_args() {
        let p: Pipeline = syn::parse_str(
            r#"read_csv::<Sale>("a.csv", delimiter = b';') |> filter(price > 1.0) |> with_column(x: f64 = price * 2.0) |> map(|s, | s)"#,
        )
        .unwrap();
        let names: Vec<String> = p.stages.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["read_csv", "filter", "with_column", "map"]);
        assert_eq!(p.stages[0].generics.len(), 1);
        assert!(p.stages[0].named("delimiter").is_some());
        assert!(matches!(
            &p.stages[2].args[0],
            Arg::Named { ty: Some(_), .. }
        ));
        assert!(matches!(&p.stages[1].args[0], Arg::Positional(_)));
    }

    #[test]
    fn rejects_missing_pipe() {
        assert!(syn::parse_str::<Pipeline>("read_text(\"a\") filter(x)").is_err());
    }
}
