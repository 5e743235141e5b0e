use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
    price: f64,
}

#[derive(Record)]
struct Summary {
    id: i64,
    total: f64,
}

fn main() {
    let _sales = pipeline! {
        from_items::<Sale>(Vec::new())
        |> with_column(discounted = price * 0.9)
        |> map(|s: Summary| -> Summary { s })
    };
    let _no_output = pipeline! {
        from_items::<Sale>(Vec::new())
        |> map(|s| Summary { id: s.id, total: s.price })
    };
}
