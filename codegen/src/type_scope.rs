//! The scope checks type expressions in: a schema's columns, with no code behind them.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::expr::{Held, Scope, Value};
use crate::schema::Schema;

/// Type-checking scope over a schema: what checks compile expressions against.
pub struct TypeScope<'a> {
    schema: &'a Schema,
}

impl<'a> TypeScope<'a> {
    /// A scope seeing `schema`'s columns.
    pub fn new(schema: &'a Schema) -> Self {
        Self { schema }
    }
}

impl Scope for TypeScope<'_> {
    fn column(&mut self, name: &str, _span: Span) -> Option<Value> {
        let column = self.schema.column(name)?;
        Some(Value::of(column.ltype.clone(), Held::Ref, quote!(())))
    }

    fn names(&self) -> Vec<String> {
        self.schema.names().map(str::to_owned).collect()
    }

    fn describe(&self) -> String {
        self.schema.describe()
    }

    fn capture(&mut self, _block: &syn::ExprBlock) -> TokenStream {
        quote!(())
    }
}
