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
    let _job = pipeline! {
        from_items::<Sale>(Vec::new())
        |> with_column(total = price * 2.0)
        |> write_parquet::<Summary>("out/")
    };
}
