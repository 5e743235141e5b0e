//! Whole-dataset aggregates of one column as consumers: `sum`, `min`, `max`, `mean`, `std`,
//! and any [`Aggregator`]. The column is named at run time and its type checked then (a
//! pipeline's `aggregate(...)` stage checks both at compile time). Nulls are skipped.

use crate::aggregate::{Aggregator, Max, Mean, Min, Numeric, Ordered, Std, Sum};
use crate::error::{Error, Result};
use crate::record::{Field, Record};

use super::Dataset;

impl<R: Record> Dataset<R> {
    /// Run `aggregator` over the non-null values of `column`, whose type must be `T` (the
    /// crate documentation of `aqueduct` shows these consumers in use).
    pub fn aggregate_column<T: Field, A: Aggregator<T>>(
        &self,
        column: &str,
        aggregator: A,
    ) -> Result<A::Output> {
        let stage = format!("aggregate of `{column}`");
        if self.plan.schema.index_of(column).is_err() {
            let names: Vec<&str> = self
                .plan
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            return Err(Error::Exchange {
                stage,
                reason: format!("no column `{column}`; the columns are {}", names.join(", "))
                    .into(),
            });
        }
        let mut state = aggregator.init();
        for (index, block) in self.iter_blocks()?.enumerate() {
            let block = block?;
            let reader =
                crate::record::bind_column::<Option<T>>(&block, column).map_err(|reason| {
                    Error::Block {
                        stage: stage.clone(),
                        block: crate::error::BlockId {
                            split: "output".into(),
                            block: index,
                        },
                        reason,
                    }
                })?;
            for i in 0..block.num_rows() {
                if let Some(value) = <Option<T> as Field>::get(reader, i) {
                    aggregator.accumulate(&mut state, value);
                }
            }
        }
        Ok(aggregator.finish(state))
    }

    /// The sum of `column` (0 for no rows): `i64` for signed integers, `u64` for unsigned,
    /// `f64` for floats.
    pub fn sum<T: Numeric>(&self, column: &str) -> Result<T::Total> {
        self.aggregate_column::<T, _>(column, Sum)
    }

    /// The smallest value of `column`, `None` without values.
    pub fn min<T: Ordered>(&self, column: &str) -> Result<Option<T>> {
        self.aggregate_column::<T, _>(column, Min)
    }

    /// The largest value of `column`, `None` without values.
    pub fn max<T: Ordered>(&self, column: &str) -> Result<Option<T>> {
        self.aggregate_column::<T, _>(column, Max)
    }

    /// The mean of `column`, `None` without values.
    pub fn mean<T: Numeric>(&self, column: &str) -> Result<Option<f64>> {
        self.aggregate_column::<T, _>(column, Mean)
    }

    /// The standard deviation of `column` with `ddof` delta degrees of freedom (1: sample, 0:
    /// population), `None` with `ddof` values or fewer.
    pub fn std<T: Numeric>(&self, column: &str, ddof: u32) -> Result<Option<f64>> {
        self.aggregate_column::<T, _>(column, Std { ddof })
    }
}
