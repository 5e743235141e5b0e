//! The quickstart: read the sales parquet files this repository ships, keep the sales worth
//! looking at, compute their revenue, write the result as parquet, and summarise the revenue
//! per category.
//!
//! `cargo run --release --example quickstart`

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

fn main() -> aqueduct::Result<()> {
    let big_sales = pipeline! {
        read_parquet::<Sale>("examples/data/sales/*.parquet")
        |> filter(price > 10 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> with_column(gift = note.is_not_null())
        |> select(id, category, revenue, gift)
    };

    // Nothing has run yet: the pipeline is a plan, checked and fused at compile time.
    println!("{}\n", big_sales.explain());

    big_sales.show(5)?;
    println!("{} sales with revenue", big_sales.count()?);

    let top = big_sales
        .take_all()?
        .into_iter()
        .fold(0.0f64, |best, s| best.max(s.revenue));
    println!("largest revenue: {top:.2}");

    let output = std::env::temp_dir().join("aqueduct-quickstart");
    // Each run replaces the last one's files (by default a directory holding files is refused).
    let written = big_sales
        .clone()
        .with_write_mode(WriteMode::Overwrite)
        .write_parquet(output.to_str().expect("a UTF-8 temp dir"))?;
    println!("wrote {} rows to {:?}\n", written.rows, written.files);

    // Grouping: the filter and the revenue run in the loop that updates the groups' sums.
    let per_category = pipeline! {
        read_parquet::<Sale>("examples/data/sales/*.parquet")
        |> filter(price > 10 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> groupby(category)
        |> aggregate(
            sales = count(),
            revenue = sum(revenue),
            mean_price = mean(price),
            largest = max(revenue)
        )
        |> sort(desc(revenue))
    };
    per_category.show(5)?;
    if let Some(stats) = per_category.stats() {
        println!("what that run did, per operator:\n{stats}");
    }
    Ok(())
}
