//! A standalone binary: the quickstart's pipeline behind a standard command line.
//!
//! ```sh
//! cargo run --release --example sales_report                       # run
//! cargo run --release --example sales_report -- explain --graph mermaid
//! cargo run --release --example sales_report -- stats --json --output report=/tmp/report
//! cargo run --release --example sales_report -- --help
//! ```

use aqueduct::chrono::{DateTime, Utc};
use aqueduct::prelude::*;

/// One sale, as stored in `examples/data/sales/*.parquet`.
#[derive(Record, Debug, Clone)]
struct Sale {
    id: i64,
    user_id: i64,
    category: String,
    price: f64,
    qty: i32,
    ts: DateTime<Utc>,
    note: Option<String>,
}

aqueduct::main!(|job| {
    let sales = job.input("sales", "examples/data/sales/*.parquet");
    let default_report = std::env::temp_dir().join("aqueduct-sales-report");
    let report = job.output("report", default_report.to_str().expect("a UTF-8 temp dir"));
    // The body runs once; the pipelines it hands to `job.run` run after it returns.
    eprintln!("report: {report}");
    job.run(pipeline! {
        read_parquet::<Sale>(sales)
        |> filter(price > 10 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> select(id, category, revenue)
        |> write_parquet(report, mode = overwrite)
    })
});
