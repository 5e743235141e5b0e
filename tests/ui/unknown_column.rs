use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
    price: f64,
    qty: i32,
}

fn main() {
    let _sales = pipeline! {
        from_items::<Sale>(Vec::new())
        |> filter(prce > 10.0)
        |> select(id, quantity)
    };
}
