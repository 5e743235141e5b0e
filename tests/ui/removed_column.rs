use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
    price: f64,
    qty: i32,
    note: Option<String>,
}

fn main() {
    let _ds = pipeline! {
        from_items::<Sale>(Vec::new())
        |> select(id, price, note)
        |> drop(note)
        |> rename(price = cost)
        |> filter(qty > 1 && note.is_null() && price > 2.0)
    };
}
