use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
}

fn main() {
    // Every error is reported, each at its own token.
    let _sales = pipeline! {
        from_items::<Sale>(Vec::new())
        |> filter(pricee > 1.0)
        |> with_column(x = category * 2)
        |> sort(id)
        |> select(id, categori)
        |> limit(10, batch_size = 3)
    };
}
