//! Making a block read from a file carry exactly the declared columns, order and types.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

/// Project `batch` to `schema`'s columns (by name, in its order), converting other
/// representations of the declared types (`record/convert.rs`) and checking nullability. The message names the
/// column; the caller adds the file.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, String> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = batch
                .column_by_name(field.name())
                .ok_or_else(|| format!("missing column `{}`", field.name()))?;
            if !field.is_nullable() && column.null_count() > 0 {
                return Err(format!(
                    "column `{}` holds {} null(s) but is declared non-nullable (declare it as Option<_>)",
                    field.name(),
                    column.null_count()
                ));
            }
            crate::record::convert(column, field.data_type(), field.name())
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| e.to_string())
}
