use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
}

fn main() {
    let _missing = pipeline! {
        from_items::<Sale>(Vec::new())
        |> filter()
        |> limit(1, 2)
    };
    let _unknown = pipeline! {
        read_csv::<Sale>("sales.csv", delimitter = b';')
        |> map_batches(|b: RecordBatch| b, batch_sise = 10)
    };
    let _no_record = pipeline! { read_parquet("sales.parquet") };
}
