use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
    category: String,
}

fn main() {
    let _job = pipeline! {
        from_items::<Sale>(Vec::new())
        |> write_parquet("out/", partition_by = categroy, rows_per_fille = 10)
    };
}

fn modes() {
    let _job = pipeline! {
        from_items::<Sale>(Vec::new())
        |> write_json("out/", mode = overwrit)
    };
}
