use aqueduct::prelude::*;

#[derive(Record)]
struct Doc {
    id: i64,
    words: Vec<String>,
}

fn main() {
    let _job = pipeline! {
        from_items::<Doc>(Vec::new())
        |> write_csv("out/")
    };
}
