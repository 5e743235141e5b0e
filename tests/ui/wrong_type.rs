use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
    qty: i32,
    note: Option<String>,
}

fn main() {
    let _sales = pipeline! {
        from_items::<Sale>(Vec::new())
        |> with_column(revenue = price * qty)
        |> filter(category > 3)
        |> filter(price)
        |> with_column(short = note.len())
    };
}
