//! Aggregation: the [`Aggregator`] trait every aggregate implements (the built-ins in
//! `builtin.rs` and users' own), group keys (`key.rs`) and the hash table partial aggregates
//! live in (`table.rs`).
//!
//! An aggregate runs in two phases. Each input split is aggregated on the worker that reads it
//! into a table of partial states (fed row by row by the generated loop of the stages before
//! it); the partial states are then hash-partitioned by key, spilled to disk past the memory
//! budget, and merged per partition. `merge` must therefore be associative and commutative:
//! the order in which partial states meet is not defined.
//!
//! Nulls: aggregates over a nullable column skip its nulls (`count(column)` counts the others);
//! a null group key is a group of its own, sorted first. NaN: `sum`, `mean`, `std` and
//! `quantile` propagate NaN as IEEE arithmetic does; `min`, `max` and `absmax` skip NaN unless
//! every value is NaN.

mod builtin;
mod key;
mod table;

pub use builtin::{
    AbsMax, Count, First, Last, Max, Mean, Min, Numeric, Ordered, Quantile, Std, Sum, Unique,
};
pub use key::{GroupKey, KeyField};
pub use table::GroupTable;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::record::Field;

/// An aggregate over the values of a column of type `T`.
///
/// ```
/// use aqueduct_runtime::Aggregator;
///
/// /// The product of the values.
/// struct Product;
///
/// impl Aggregator<f64> for Product {
///     type State = f64;
///     type Output = f64;
///     fn init(&self) -> f64 { 1.0 }
///     fn accumulate(&self, state: &mut f64, value: f64) { *state *= value }
///     fn merge(&self, state: &mut f64, other: f64) { *state *= other }
///     fn finish(&self, state: f64) -> f64 { state }
/// }
/// ```
///
/// States are serializable so that partial aggregates can spill to disk.
pub trait Aggregator<T: Field>: Send + Sync + 'static {
    /// The partial result of some of a group's values.
    type State: Serialize + DeserializeOwned + Send + 'static;
    /// The type of the output column.
    type Output: Field;
    /// The state of no values.
    fn init(&self) -> Self::State;
    /// Add one value.
    fn accumulate(&self, state: &mut Self::State, value: T::Ref<'_>);
    /// Add the values another state has seen.
    fn merge(&self, state: &mut Self::State, other: Self::State);
    /// The result.
    fn finish(&self, state: Self::State) -> Self::Output;
}
