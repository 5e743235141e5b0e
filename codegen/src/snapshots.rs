//! Snapshots (insta) of what each optimiser pass leaves in the plan and of the code emitted
//! for a handful of pipelines that together use every operator. A refactoring of the compiler
//! must leave them as they are; a deliberate change is accepted with `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test -p aqueduct-codegen`) and read in the diff.

use std::fmt::Write;

use crate::optimize::{self, fusion};
use crate::tests::checked;

/// The plan after each pass, then the emitted code, formatted.
fn compiled(pipeline: &str) -> String {
    let unfused = pipeline.strip_prefix("#![no_fusion]");
    let mut plan =
        checked(unfused.unwrap_or(pipeline)).unwrap_or_else(|e| panic!("`{pipeline}`: {e:?}"));
    plan.fusion = unfused.is_none();
    let mut out = format!("{pipeline}\n");
    for (name, pass) in optimize::PASSES {
        pass(&mut plan);
        let after = match *name {
            "projection" => format!(
                "source reads {:?}; live after the source and each stage {:?}",
                plan.source.columns, plan.live
            ),
            "predicate" => format!(
                "{:?}",
                plan.source
                    .predicates
                    .iter()
                    .map(|p| crate::ops::source::predicate(p).to_string())
                    .collect::<Vec<_>>()
            ),
            "dictionary" => format!("{:?}", plan.source.dictionary),
            other => panic!("a snapshot line for the new pass `{other}`"),
        };
        writeln!(out, "{name}: {after}").unwrap();
    }
    writeln!(out, "fusion: {:?}", fusion::run(&plan)).unwrap();
    let emitted = crate::lower::pipeline(&plan);
    let file: syn::File = syn::parse2(quote::quote!(fn pipeline() { let _ = #emitted; }))
        .expect("the emitted code parses");
    out + "\n" + &prettyplease::unparse(&file)
}

macro_rules! snapshots {
    ($($name:ident: $pipeline:expr,)*) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), compiled($pipeline));
        }
    )*};
}

snapshots! {
    filter_revenue_groupby_to_parquet: "read_parquet::<Sale>(\"sales\") |> filter(price > 10.0 && qty >= 2) |> with_column(revenue = price * qty as f64) |> groupby(category) |> aggregate(n = count(), total = sum(revenue), top = max(price), mean_qty = mean(qty)) |> write_parquet(\"out\", partition_by = category, mode = overwrite)",
    reshape_and_limit: "read_csv::<Sale>(\"sales.csv\", delimiter = b';') |> rename(price = cost) |> drop(note) |> with_columns(total = cost * qty as f64, big = cost > 100.0) |> select(id, total, big) |> filter(!big) |> limit(10)",
    closures: "read_json::<Sale>(\"sales.jsonl\") |> filter(|s: &Sale| s.qty > 0) |> map(|s: Sale| -> Line { Line { id: s.id, total: s.price } }) |> flat_map(|l: Line| -> Vec<Line> { vec![l.clone(), l] }) |> with_column(twice = total * 2.0)",
    batches_and_pools: "from_items::<Sale>(rows) |> map_batches(|b: RecordBatch| b, batch_size = 100) |> map_batches(scale, args = (2.0), compute = tasks(2)) |> map_batches::<Line>(Model, args = (weights), compute = actors(1, 4), num_gpus = 1)",
    all_to_all: "read_parquet::<Sale>(\"sales\") |> sort(desc(price), id, nulls_first = true) |> random_shuffle(seed = 7) |> randomize_block_order(seed = 3) |> repartition(4) |> groupby(category) |> map_groups(|g: Vec<Sale>| -> Vec<Sale> { g }) |> unique(category)",
    zip_and_aggregates_without_keys: "from_items::<Sale>(rows) |> zip::<Score>(scores) |> aggregate(n = count(note), lo = min(price), hi = absmax(qty), sd = std(price, ddof = 0), q = quantile(price, 0.9), firsts = first(category), lasts = last(id), all = unique(category))",
    gpu_columns: "read_images::<Photo>(\"digits\", size = (8, 8), include_paths = true) |> with_columns(pixels: Tensor<f32, 8, 8, 3> = image as f32 / 255.0, num_gpus = 1) |> select(pixels, path)",
    text_lines: "read_text(\"lines.txt\") |> filter(text.len() > 3) |> with_column(chars = text.len() as i64) |> write_json(\"out\", rows_per_file = 1000)",
}

#[test]
fn without_fusion() {
    insta::assert_snapshot!(compiled(
        "#![no_fusion] read_parquet::<Sale>(\"sales\") |> filter(price > 10.0) |> with_column(r = price * 2.0) |> select(id, r)"
    ));
}
