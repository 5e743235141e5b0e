//! Making a block read from a file carry exactly the declared columns, order and types.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

/// `conform` to the source's declared schema, a mismatch an error naming the file's block.
pub(super) fn conformed(
    batch: &RecordBatch,
    url: &str,
    block: usize,
    config: &super::file::FileConfig,
) -> crate::error::Result<RecordBatch> {
    conform(batch, &config.schema).map_err(|reason| crate::error::Error::SchemaMismatch {
        url: format!("{url}, block {block}"),
        record: config.record.to_owned(),
        reason,
    })
}

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
    // The row count goes along: a read that needs no column of the file (only partition
    // columns from the path) still has its rows.
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| e.to_string())
}
