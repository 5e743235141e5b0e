//! Records: Rust structs that map to Arrow schemas (`#[derive(Record)]` implements [`Record`]).

mod bind;
mod convert;
mod field;
mod tensor;

pub use bind::{bind_column, check_schema};
pub(crate) use convert::convert;
pub use field::{Field, ListItem, ListRef, StrReader, finish};
pub use tensor::{Tensor, TensorElement};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// A row type with a fixed Arrow schema. Implemented by `#[derive(Record)]`; see the crate docs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Record",
    label = "add `#[derive(Record)]` to this type"
)]
pub trait Record: Sized + Send + Sync + 'static {
    /// Typed readers over every column of a batch (generated struct `<Name>Columns`).
    type Columns<'a>;
    /// A borrowed view of one row (generated struct `<Name>Ref`): no allocation per row.
    type Ref<'a>;
    /// Builders for every column.
    type Builder: Send;

    /// The record's name, for messages.
    const NAME: &'static str;

    /// The Arrow schema: one field per struct field, in declaration order.
    fn schema() -> SchemaRef;
    /// Typed readers over `batch`, checked against the schema (by name).
    fn columns(batch: &RecordBatch) -> Result<Self::Columns<'_>, String>;
    /// Number of rows the readers cover.
    fn num_rows(columns: &Self::Columns<'_>) -> usize;
    /// Row `i` as a borrowed view.
    fn row_ref<'a>(columns: &Self::Columns<'a>, i: usize) -> Self::Ref<'a>;
    /// Row `i` as an owned value.
    fn row(columns: &Self::Columns<'_>, i: usize) -> Self;
    /// An empty builder with room for `capacity` rows.
    fn builder(capacity: usize) -> Self::Builder;
    /// Append one row.
    fn append(builder: &mut Self::Builder, row: &Self);
    /// Finish the rows appended so far into a batch (the builder is reset).
    fn finish(builder: &mut Self::Builder) -> RecordBatch;

    /// Rows into one batch.
    fn to_batch(rows: &[Self]) -> RecordBatch {
        let mut builder = Self::builder(rows.len());
        for row in rows {
            Self::append(&mut builder, row);
        }
        Self::finish(&mut builder)
    }

    /// A batch into owned rows, checking its schema first.
    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, String> {
        let columns = Self::columns(batch)?;
        Ok((0..batch.num_rows())
            .map(|i| Self::row(&columns, i))
            .collect())
    }
}
