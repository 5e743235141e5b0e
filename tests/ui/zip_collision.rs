use aqueduct::prelude::*;

#[derive(Record, Clone)]
struct Sale {
    id: i64,
    price: f64,
}

#[derive(Record, Clone)]
struct Score {
    id: i64,
    price: f64,
    score: f32,
}

fn main() {
    let scores = pipeline! { from_items::<Score>(Vec::new()) };
    let _zipped = pipeline! {
        from_items::<Sale>(Vec::new())
        |> zip::<Score>(scores)
    };
}
