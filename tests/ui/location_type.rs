use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
}

fn main() {
    let port = 8080;
    let _ds = pipeline! { read_parquet::<Sale>(port) };
}
