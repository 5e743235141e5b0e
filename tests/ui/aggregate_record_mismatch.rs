use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    category: String,
    price: f64,
}

#[derive(Record)]
struct Totals {
    category: String,
    total: i64,
}

fn main() {
    let _totals = pipeline! {
        from_items::<Sale>(Vec::new())
        |> groupby(category)
        |> aggregate::<Totals>(total = sum(price))
    };
}
