//! # aqueduct
//!
//! A dataflow compiler for Rust. Write a pipeline with [`pipeline!`]: every column name and
//! every expression type is checked at compile time, adjacent row-wise stages are fused into
//! one native loop per block, and the runtime streams Arrow record batches through it.
//!
//! ```
//! use aqueduct::prelude::*;
//!
//! #[derive(Record, Debug, Clone, PartialEq)]
//! struct Sale {
//!     id: i64,
//!     category: String,
//!     price: f64,
//!     qty: i32,
//! }
//!
//! let sales = vec![
//!     Sale { id: 1, category: "books".into(), price: 12.5, qty: 2 },
//!     Sale { id: 2, category: "games".into(), price: 60.0, qty: 1 },
//!     Sale { id: 3, category: "books".into(), price: 8.0, qty: 5 },
//! ];
//! let revenue = pipeline! {
//!     from_items::<Sale>(sales)
//!     |> filter(price > 10 && qty >= 2)
//!     |> with_column(revenue = price * qty as f64)
//!     |> select(id, revenue)
//! };
//! let rows = revenue.take_all()?;
//! assert_eq!(rows.len(), 1);
//! assert_eq!((rows[0].id, rows[0].revenue), (1, 25.0));
//! assert!(revenue.explain().contains("fused[filter → with_column → select]"));
//! # Ok::<(), aqueduct::Error>(())
//! ```
//!
//! Grouping and aggregating, checked the same way; and whole-dataset aggregates of one column
//! as consumers:
//!
//! ```
//! # use aqueduct::prelude::*;
//! # #[derive(Record, Debug, Clone, PartialEq)]
//! # struct Sale { id: i64, category: String, price: f64, qty: i32 }
//! # let sales = vec![
//! #     Sale { id: 1, category: "books".into(), price: 12.5, qty: 2 },
//! #     Sale { id: 2, category: "games".into(), price: 60.0, qty: 1 },
//! #     Sale { id: 3, category: "books".into(), price: 8.0, qty: 5 },
//! # ];
//! let by_category = pipeline! {
//!     from_items::<Sale>(sales.clone())
//!     |> groupby(category)
//!     |> aggregate(n = count(), units = sum(qty), top = max(price))
//! };
//! let rows = by_category.take_all()?;
//! assert_eq!((rows[0].category.as_str(), rows[0].n, rows[0].units), ("books", 2, 7));
//! assert_eq!(rows[1].top, Some(60.0));
//!
//! let all = pipeline! { from_items::<Sale>(sales) };
//! assert_eq!(all.sum::<i32>("qty")?, 8);
//! assert_eq!(all.max::<f64>("price")?, Some(60.0));
//! assert_eq!(all.aggregate_column::<f64, _>("price", aqueduct::Mean)?, Some(80.5 / 3.0));
//! # Ok::<(), aqueduct::Error>(())
//! ```
//!
//! See the README for the stages, sources and sinks, and `ARCHITECTURE.md` for how it works.

pub use aqueduct_macros::{Record, pipeline};

// The surface a user programs against, listed: the runtime's internals (exchanges, sinks,
// sources, group tables) stay behind it, reachable by generated code through `__private`.
pub use aqueduct_runtime::{
    // Aggregations: the built-in ones, and the trait a custom one implements.
    AbsMax,
    Aggregator,
    // Running a pipeline: the dataset, its consumers and writes, options and statistics.
    BatchOptions,
    // Errors.
    BlockId,
    BlockStream,
    Cause,
    Count,
    // Reading and writing files.
    CsvOptions,
    Dataset,
    Error,
    ErroredBlock,
    ExecOptions,
    Fetched,
    First,
    GraphFormat,
    Last,
    Max,
    Mean,
    Min,
    Numeric,
    OperatorStats,
    Ordered,
    Quantile,
    // Records and the values in them.
    Record,
    RecordBatch,
    Result,
    RetryPolicy,
    RunStats,
    SplitStream,
    StageError,
    Std,
    Sum,
    Tensor,
    TensorElement,
    Unique,
    Write,
    WriteFormat,
    WriteMode,
    WriteOptions,
    WriteSummary,
    chrono,
    parse_bytes,
};
pub use aqueduct_runtime::{cli, gpu, preprocess};

/// Stateful `map_batches` stages (Ray Data's actor classes): the trait a model or a client
/// implements to be constructed once per worker and called batch after batch.
pub mod pool {
    pub use aqueduct_runtime::pool::{BoxError, Stateful};
}

/// Where data lives: object stores registered under a URL prefix, the options of cloud
/// stores, and listing what a location holds.
pub mod storage {
    pub use aqueduct_runtime::storage::{
        AsLocation, Location, StoreOptions, list_files, register_store, set_store_options,
        store_options,
    };
}

/// An object store that fails on purpose, to test how a pipeline copes (the `testing`
/// feature).
#[cfg(feature = "testing")]
pub use aqueduct_runtime::faulty;

#[doc(hidden)]
pub use aqueduct_runtime::__private;

/// Turn a program into a standalone binary with a standard command line (see [`cli`]):
/// `run` (the default), `explain [--graph mermaid|dot]`, `stats [--json]`, and
/// `--input NAME=URL`, `--output NAME=URL`, `--threads`, `--memory`, `--preserve-order`,
/// `--progress/--no-progress`.
///
/// ```no_run
/// use aqueduct::prelude::*;
///
/// #[derive(Record, Debug, Clone)]
/// struct Sale {
///     id: i64,
///     price: f64,
/// }
///
/// aqueduct::main!(|job| {
///     let sales = job.input("sales", "data/sales/*.parquet");
///     let out = job.output("expensive", "out/expensive");
///     job.run(pipeline! {
///         read_parquet::<Sale>(sales)
///         |> filter(price > 100.0)
///         |> write_parquet(out)
///     })
/// });
/// ```
#[macro_export]
macro_rules! main {
    (|$job:ident| $body:expr) => {
        fn main() -> ::std::process::ExitCode {
            $crate::cli::main(|$job: &mut $crate::cli::Job| -> $crate::Result<()> { $body })
        }
    };
}

/// Everything a pipeline author needs: `use aqueduct::prelude::*;`.
pub mod prelude {
    pub use aqueduct_macros::{Record, pipeline};
    pub use aqueduct_runtime::{
        Aggregator, CsvOptions, Dataset, Error, Record, RecordBatch, Result, Tensor, Write,
        WriteMode, WriteSummary,
    };
}
