//! Sorting: runs sorted with arrow kernels, keys compared in arrow's row format (every NaN one
//! value, above +inf).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray};
use arrow::compute::{
    SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch,
};
use arrow::datatypes::{DataType, Float32Type, Float64Type, Schema};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};

use super::store::RunKeys;
use super::{BLOCK_ROWS, SortKey};
use crate::error::{Cause, Result};

pub(super) fn sort_options(key: &SortKey) -> SortOptions {
    SortOptions {
        descending: key.descending,
        nulls_first: key.nulls_first,
    }
}

/// Blocks sorted as one run, cut into blocks of [`BLOCK_ROWS`].
pub(super) fn sort_run(
    blocks: &[RecordBatch],
    order: &[SortKey],
) -> Result<Vec<RecordBatch>, Cause> {
    let all = concat_batches(&blocks[0].schema(), blocks)?;
    let columns = order
        .iter()
        .map(|key| {
            Ok(SortColumn {
                values: key_column(
                    all.column_by_name(&key.column)
                        .ok_or_else(|| Cause::from(format!("missing column `{}`", key.column)))?,
                ),
                options: Some(sort_options(key)),
            })
        })
        .collect::<Result<Vec<_>, Cause>>()?;
    let indices = lexsort_to_indices(&columns, None)?;
    let sorted = take_record_batch(&all, &indices)?;
    Ok((0..sorted.num_rows())
        .step_by(BLOCK_ROWS)
        .map(|start| sorted.slice(start, BLOCK_ROWS.min(sorted.num_rows() - start)))
        .collect())
}

/// The keys of each block's first row and of one row drawn from it, in the merge's row format.
/// The row is drawn from `seed` (the run's place in the input) and the block: the same place in
/// every block of every run would sample the same keys of runs alike (data with evenly spread
/// values sorts into runs whose samples are all one value).
pub(super) fn run_keys(
    blocks: &[RecordBatch],
    order: &[SortKey],
    seed: u64,
) -> Result<RunKeys, Cause> {
    let mut keys = RunKeys {
        firsts: Vec::with_capacity(blocks.len()),
        samples: Vec::with_capacity(blocks.len()),
    };
    let Some(first) = blocks.first() else {
        return Ok(keys);
    };
    let (converter, columns) = converter(&first.schema(), order)?;
    for (index, block) in blocks.iter().enumerate() {
        let at = |row: usize| -> Result<_, Cause> {
            Ok(rows_of(&converter, &columns, &block.slice(row, 1))?
                .row(0)
                .owned())
        };
        keys.firsts.push(at(0)?);
        let mut state =
            std::hash::BuildHasher::build_hasher(&foldhash::fast::FixedState::with_seed(seed));
        std::hash::Hasher::write_usize(&mut state, index);
        let drawn = std::hash::Hasher::finish(&state) as usize % block.num_rows();
        keys.samples.push(at(drawn)?);
    }
    Ok(keys)
}

/// A sort key column as it is compared: every NaN as the one positive NaN. Arrow orders floats
/// by `total_cmp`, which puts a NaN with its sign bit set (what x86 makes of `inf - inf`) before
/// every number and orders NaNs by payload; NaN sorts as the greatest value whatever its bits,
/// as in DuckDB and Polars, and NaNs tie (broken by the next key).
pub(super) fn key_column(column: &ArrayRef) -> ArrayRef {
    macro_rules! positive_nan {
        ($ty:ty, $nan:expr) => {{
            let values = column.as_primitive::<$ty>();
            if !values
                .values()
                .iter()
                .any(|v| v.is_nan() && v.to_bits() != $nan.to_bits())
            {
                return column.clone();
            }
            Arc::new(values.unary::<_, $ty>(|v| if v.is_nan() { $nan } else { v }))
        }};
    }
    match column.data_type() {
        DataType::Float64 => positive_nan!(Float64Type, f64::NAN),
        DataType::Float32 => positive_nan!(Float32Type, f32::NAN),
        _ => column.clone(),
    }
}

/// A converter to arrow's row format for the order's columns of `schema`.
pub(super) fn converter(
    schema: &Schema,
    order: &[SortKey],
) -> Result<(RowConverter, Vec<usize>), Cause> {
    let mut fields = Vec::new();
    let mut indices = Vec::new();
    for key in order {
        let index = schema
            .index_of(&key.column)
            .map_err(|_| format!("missing column `{}`", key.column))?;
        fields.push(SortField::new_with_options(
            schema.field(index).data_type().clone(),
            sort_options(key),
        ));
        indices.push(index);
    }
    Ok((RowConverter::new(fields)?, indices))
}

pub(super) fn rows_of(
    converter: &RowConverter,
    indices: &[usize],
    batch: &RecordBatch,
) -> Result<Rows, arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = indices
        .iter()
        .map(|&i| key_column(batch.column(i)))
        .collect();
    converter.convert_columns(&columns)
}
