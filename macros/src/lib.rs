//! Procedural macros of aqueduct. They only parse and hand over to `aqueduct-codegen`; use
//! them through the `aqueduct` crate.

use proc_macro::TokenStream;

/// Derive `aqueduct::Record` for a struct with named fields: its Arrow schema, typed column
/// readers (`<Name>Columns`), borrowing row views (`<Name>Ref`), conversions between
/// `Vec<Name>` and `RecordBatch`, and the schema `pipeline!` reads at compile time.
///
/// ```
/// use aqueduct::prelude::*;
///
/// #[derive(Record, Debug, PartialEq)]
/// struct Reading {
///     sensor: String,
///     value: Option<f64>,
///     samples: Vec<i32>,
/// }
///
/// let rows = vec![Reading { sensor: "a".into(), value: Some(1.5), samples: vec![1, 2] }];
/// let batch = Reading::to_batch(&rows);
/// assert_eq!(batch.schema(), Reading::schema());
/// let columns = Reading::columns(&batch).unwrap();
/// let view = Reading::row_ref(&columns, 0); // borrows: `view.sensor` is a `&str`
/// assert_eq!((view.sensor, view.value, view.samples.len()), ("a", Some(1.5), 2));
/// assert_eq!(Reading::from_batch(&batch).unwrap(), rows);
/// ```
///
/// A field type that cannot be a column is a compile error at that field:
///
/// ```compile_fail
/// use aqueduct::prelude::*;
///
/// #[derive(Record)]
/// struct Bad {
///     lookup: std::collections::HashMap<String, i64>, // error: cannot be a column of a Record
/// }
/// ```
#[proc_macro_derive(Record)]
pub fn derive_record(input: TokenStream) -> TokenStream {
    aqueduct_codegen::derive_record(input.into()).into()
}

/// Compile a pipeline: `source |> stage |> ... [|> sink]`, checked against the records it
/// names, with adjacent row-wise stages fused into one loop per block. It evaluates to a lazy
/// `aqueduct::Dataset` (or an `aqueduct::Write` when it ends in a sink); nothing runs until a
/// consumer is called. The README lists the sources, stages, expression language and sinks.
///
/// ```
/// use aqueduct::prelude::*;
///
/// #[derive(Record, Debug, Clone, PartialEq)]
/// struct Sale {
///     id: i64,
///     price: f64,
///     qty: i32,
/// }
///
/// # fn main() -> aqueduct::Result<()> {
/// let dir = std::env::temp_dir().join("aqueduct-doc-pipeline");
/// std::fs::create_dir_all(&dir).unwrap();
/// let csv = dir.join("sales.csv");
/// std::fs::write(&csv, "id,price,qty\n1,12.5,2\n2,3.0,1\n3,40.0,3\n").unwrap();
///
/// let revenue = pipeline! {
///     read_csv::<Sale>(csv.to_str().unwrap())
///     |> filter(price > 10)
///     |> with_column(revenue = price * qty as f64)
///     |> select(id, revenue)
/// };
/// let rows = revenue.take_all()?;
/// assert_eq!(rows.iter().map(|r| (r.id, r.revenue)).collect::<Vec<_>>(), [(1, 25.0), (3, 120.0)]);
///
/// // A pipeline can end in a sink; `run` executes it. A directory that already holds files
/// // is refused unless the sink says `mode = overwrite` or `mode = append`.
/// let out = dir.join("out");
/// let job = pipeline! {
///     read_csv::<Sale>(csv.to_str().unwrap())
///     |> map(|s| -> Sale { Sale { price: s.price * 2.0, ..s } })
///     |> write_parquet::<Sale>(out.to_str().unwrap(), mode = overwrite)
/// };
/// assert_eq!(job.run()?.rows, 3);
/// # Ok(())
/// # }
/// ```
///
/// Plan errors are compile errors at the offending token:
///
/// ```compile_fail
/// use aqueduct::prelude::*;
///
/// #[derive(Record)]
/// struct Sale { id: i64, price: f64 }
///
/// let ds = pipeline! {
///     from_items::<Sale>(Vec::new())
///     |> filter(prce > 10.0) // error: no column `prce` in `Sale`; did you mean `price`?
/// };
/// ```
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    aqueduct_codegen::pipeline(input.into()).into()
}
