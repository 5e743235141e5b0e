//! Binding columns of a batch to typed readers, with errors that name the column.

use arrow::array::Array;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;

use super::Field;

/// The typed reader of column `name` in `batch`, or a message naming what is wrong.
pub fn bind_column<'a, T: Field>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<T::Reader<'a>, String> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| format!("missing column `{name}`"))?;
    bind_array::<T>(array.as_ref(), name)
}

fn bind_array<'a, T: Field>(array: &'a dyn Array, name: &str) -> Result<T::Reader<'a>, String> {
    if !T::NULLABLE && array.null_count() > 0 {
        return Err(format!(
            "column `{name}` holds {} null(s) but is declared non-nullable (declare it as Option<_>)",
            array.null_count()
        ));
    }
    T::reader(array).ok_or_else(|| {
        format!(
            "column `{name}` has type {} but is declared as {}",
            array.data_type(),
            T::data_type()
        )
    })
}

/// Check that `actual` has every column of `expected` in a type it can be read as (see
/// `convert.rs`); the first mismatch is described. Extra columns in `actual` are allowed
/// (they are not read).
pub fn check_schema(expected: &Schema, actual: &Schema) -> Result<(), String> {
    for field in expected.fields() {
        let found = actual
            .field_with_name(field.name())
            .map_err(|_| format!("missing column `{}`", field.name()))?;
        if super::convert::readable(field.data_type(), found.data_type())
            == super::convert::Readable::No
        {
            return Err(format!(
                "column `{}` holds {} values, which the declared {} cannot hold",
                field.name(),
                super::convert::rust_name(found.data_type()),
                super::convert::rust_name(field.data_type())
            ));
        }
    }
    Ok(())
}
