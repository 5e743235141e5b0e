use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
}

fn main() {
    let _sales = pipeline! {
        from_items::<Sale>(Vec::new())
        |> filtr(id > 3)
        |> groupby_everything(id)
    };
    let _bad_source = pipeline! { read_parket::<Sale>("x") };
}
