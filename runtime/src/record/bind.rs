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

/// Check that `actual` has every column of `expected` with the same type; the first mismatch
/// is described. Extra columns in `actual` are allowed (they are not read).
pub fn check_schema(expected: &Schema, actual: &Schema) -> Result<(), String> {
    for field in expected.fields() {
        let found = actual
            .field_with_name(field.name())
            .map_err(|_| format!("missing column `{}`", field.name()))?;
        if !types_compatible(field.data_type(), found.data_type()) {
            return Err(format!(
                "column `{}` has type {} but is declared as {}",
                field.name(),
                found.data_type(),
                field.data_type()
            ));
        }
    }
    Ok(())
}

/// Equal types, ignoring the names and nullability of nested list items (writers differ there).
fn types_compatible(
    expected: &arrow::datatypes::DataType,
    actual: &arrow::datatypes::DataType,
) -> bool {
    use arrow::datatypes::DataType::*;
    match (expected, actual) {
        (List(a), List(b)) | (LargeList(a), LargeList(b)) => {
            types_compatible(a.data_type(), b.data_type())
        }
        (FixedSizeList(a, n), FixedSizeList(b, m)) => {
            n == m && types_compatible(a.data_type(), b.data_type())
        }
        (Timestamp(u1, Some(a)), Timestamp(u2, Some(b))) => {
            u1 == u2 && (a == b || (is_utc(a) && is_utc(b)))
        }
        // String columns the reader was asked to hand over as dictionaries.
        (Dictionary(_, a), b) | (b, Dictionary(_, a)) if **a == Utf8 && *b == Utf8 => true,
        _ => expected == actual,
    }
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "+00:00" | "Z" | "utc" | "Etc/UTC")
}
