//! The scope checks type expressions in: a schema's columns, with no code behind them.

use proc_macro2::Span;

use crate::expr::Columns;
use crate::schema::Schema;
use crate::types::LType;

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

impl Columns for TypeScope<'_> {
    fn column_type(&mut self, name: &str, _span: Span) -> Option<LType> {
        Some(self.schema.column(name)?.ltype.clone())
    }

    fn names(&self) -> Vec<String> {
        self.schema.names().map(str::to_owned).collect()
    }

    fn describe(&self) -> String {
        self.schema.describe()
    }
}
