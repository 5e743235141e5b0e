//! Compiler tests without a proc-macro context: pipelines parsed from text against records
//! given as the schema callbacks would hand them over, then checked, optimised and explained.

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;
use crate::optimize::{fusion, predicate, projection};
use crate::plan::Plan;
use crate::schema::Collected;
use crate::syntax::Pipeline;

const RECORDS: &str = r#"{
    [Sale] { id: i64, category: String, price: f64, qty: i32, note: Option<String>, }
    [Line] { id: i64, total: f64, }
    [Reading] { id: i64, x: f32, y: f64, n: i32, small: u8, tiny: i8, big: u64, label: String, }
    [Digit] { image: Tensor<u8, 8, 8>, path: String, mask: Tensor<u8, 4>, }
    [Photo] { image: Tensor<u8, 8, 8, 3>, }
    [Score] { score: f64, }
}"#;

/// The checked plan of `pipeline`, or the error messages.
pub(crate) fn checked(pipeline: &str) -> Result<Plan, Vec<String>> {
    let collected: Collected = syn::parse_str(RECORDS).unwrap();
    let pipeline: Pipeline = syn::parse_str(pipeline).unwrap();
    let cx = Ctxt::new();
    let plan = crate::ops::check_pipeline(&cx, &pipeline, &collected.records, true);
    match cx.check() {
        Ok(()) => Ok(plan.unwrap()),
        Err(errors) => Err(messages(errors)),
    }
}

fn errors_of(pipeline: &str) -> Vec<String> {
    match checked(pipeline) {
        Ok(_) => panic!("`{pipeline}` should not compile"),
        Err(errors) => errors,
    }
}

fn messages(errors: TokenStream) -> Vec<String> {
    // Each error is `::core::compile_error! { "message" }`: keep the messages.
    errors
        .to_string()
        .split("compile_error !")
        .skip(1)
        .map(|e| e.split('"').nth(1).unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn projection_keeps_only_columns_used_downstream() {
    let mut plan = checked("read_parquet::<Sale>(\"s\") |> filter(qty > 1) |> with_column(r = price * 2.0) |> select(id, r)").unwrap();
    assert!(projection::run(&mut plan));
    assert_eq!(plan.source.columns, ["id", "price", "qty"]);
    assert!(!projection::run(&mut plan), "a second run changes nothing");
}

#[test]
fn projection_reads_whole_records_for_closures_and_renames_back() {
    let mut plan =
        checked("read_parquet::<Sale>(\"s\") |> map(|s| -> Line { todo!() }) |> select(id)")
            .unwrap();
    projection::run(&mut plan);
    assert_eq!(
        plan.source.columns,
        ["id", "category", "price", "qty", "note"]
    );

    let mut plan =
        checked("read_parquet::<Sale>(\"s\") |> rename(price = cost) |> select(cost)").unwrap();
    projection::run(&mut plan);
    assert_eq!(plan.source.columns, ["price"]);
}

#[test]
fn fusion_groups_row_wise_stages_between_breakers() {
    let plan = checked(
        "from_items::<Sale>(v) |> filter(qty > 1) |> select(id, price) |> map_batches(f, batch_size = 8) |> filter(id > 2) |> limit(5) |> drop(price)",
    )
    .unwrap();
    use fusion::Segment::*;
    assert_eq!(
        fusion::run(&plan),
        [
            Fused { start: 0, end: 2 },
            Single(2),
            Fused { start: 3, end: 4 },
            Single(4),
            Fused { start: 5, end: 6 }
        ]
    );
    let physical = crate::explain::physical(&plan, &fusion::run(&plan));
    assert_eq!(
        physical,
        "stage 1: fused[filter → select] (one loop per block)\n\
         stage 2: map_batches(f, batch_size = 8)\n\
         stage 3: filter(id > 2) (one loop per block)\n\
         stage 4: limit(5)\n\
         stage 5: drop(price) (one loop per block)"
    );
}

#[test]
fn schemas_flow_through_column_stages() {
    let plan = checked("from_items::<Sale>(v) |> with_column(r = qty as f64 * 0.5) |> drop(note, category) |> rename(r = ratio)").unwrap();
    assert_eq!(
        plan.output().signature(),
        "{id: i64, price: f64, qty: i32, ratio: f64}"
    );
    assert_eq!(
        plan.schemas[0].signature(),
        "Sale {id: i64, category: String, price: f64, qty: i32, note: Option<String>}"
    );
}

#[test]
fn all_errors_are_reported_with_hints() {
    let errors = errors_of(
        "from_items::<Sale>(v) |> filter(prise > 1.0) |> with_column(x = qty * price) |> selec(id) |> limit()",
    );
    assert_eq!(
        errors,
        [
            "no column `prise` in `Sale`; did you mean `price`?",
            "cannot apply `*` to `i32` and `f64`; convert one side with `as`, e.g. `price as i32`",
            "unknown stage `selec`; did you mean `select`?",
            "`limit` is missing its argument `n`: `limit(n)`",
        ]
    );
}

#[test]
fn literals_take_the_type_of_the_other_side() {
    assert!(checked("from_items::<Sale>(v) |> filter(price > 10 && qty >= 2)").is_ok());
    let errors = errors_of("from_items::<Sale>(v) |> filter(qty > 1.5)");
    assert_eq!(
        errors,
        ["cannot apply `>` to `i32` and `float`; convert it with `as`: `qty as f64`"]
    );
    let errors = errors_of("from_items::<Sale>(v) |> filter(note == \"x\" && note.len() > 0)");
    assert_eq!(
        errors,
        ["`len` does not apply to `Option<String>`: it measures strings, binaries and lists"]
    );
}

#[test]
fn predicates_before_any_reshaping_go_to_the_parquet_reader() {
    let mut plan = checked(
        "read_parquet::<Sale>(\"s\") |> filter(price > 10 && 2 <= qty && price * 2.0 < 500.0) |> with_column(price = price * 2.0) |> filter(price < 3.0 && id == -5) |> map(|s| -> Line { todo!() }) |> filter(total > 1.0)",
    )
    .unwrap();
    assert!(predicate::run(&mut plan));
    let pushed: Vec<String> = plan
        .source
        .predicates
        .iter()
        .map(|p| {
            crate::ops::source::predicate(p)
                .to_string()
                .replace(' ', "")
        })
        .collect();
    assert_eq!(pushed.len(), 3, "{pushed:?}");
    assert!(
        pushed[0].contains(
            "\"price\",::aqueduct::__private::CmpOp::Gt,::aqueduct::__private::Scalar::Float(10f64)"
        ),
        "{pushed:?}"
    );
    assert!(
        pushed[1].contains(
            "\"qty\",::aqueduct::__private::CmpOp::Ge,::aqueduct::__private::Scalar::Int(2i64)"
        ),
        "{pushed:?}"
    );
    assert!(
        pushed[2].contains(
            "\"id\",::aqueduct::__private::CmpOp::Eq,::aqueduct::__private::Scalar::Int(-5i64)"
        ),
        "{pushed:?}"
    );

    // A closure filter only drops rows: comparisons after it still hold for what is read.
    let mut plan = checked(
        "read_parquet::<Sale>(\"s\") |> filter(|s: &Sale| s.qty > 0) |> filter(price > 10.0) |> rename(price = cost) |> filter(cost < 5.0)",
    )
    .unwrap();
    assert!(predicate::run(&mut plan));
    assert_eq!(plan.source.predicates.len(), 1, "none past the rename");
    assert_eq!(plan.source.predicates[0].column, "price");

    let mut csv = checked("read_csv::<Sale>(\"s\") |> filter(price > 10.0)").unwrap();
    assert!(
        !predicate::run(&mut csv),
        "only parquet has row-group statistics"
    );
}

#[test]
fn an_aggregate_absorbs_the_row_wise_stages_before_it() {
    let plan = checked("read_parquet::<Sale>(\"s\") |> filter(qty > 1) |> with_column(r = price * 2.0) |> groupby(category) |> aggregate(n = count(), total = sum(r)) |> sort(desc(total)) |> limit(3)").unwrap();
    assert_eq!(
        fusion::run(&plan),
        vec![
            fusion::Segment::Aggregate { start: 0, index: 2 },
            fusion::Segment::Single(3),
            fusion::Segment::Single(4),
        ]
    );
    let output: Vec<String> = plan
        .output()
        .columns
        .iter()
        .map(|c| format!("{}: {}", c.name, c.ltype))
        .collect();
    assert_eq!(output, ["category: String", "n: u64", "total: f64"]);
}

#[test]
fn projection_through_an_aggregate_reads_keys_and_inputs_only() {
    let mut plan = checked(
        "read_parquet::<Sale>(\"s\") |> groupby(category) |> aggregate(top = max(price), notes = count(note))",
    )
    .unwrap();
    projection::run(&mut plan);
    assert_eq!(plan.source.columns, ["category", "price", "note"]);
}

#[test]
fn string_keys_read_as_dictionaries_only_straight_from_parquet() {
    let dictionary = |pipeline: &str| {
        let mut plan = checked(pipeline).unwrap();
        projection::run(&mut plan);
        crate::optimize::dictionary::run(&mut plan);
        plan.source.dictionary.clone()
    };
    assert_eq!(
        dictionary(
            "read_parquet::<Sale>(\"s\") |> filter(category != \"x\") |> groupby(category) |> aggregate(n = count())"
        ),
        ["category"]
    );
    assert_eq!(
        dictionary("read_parquet::<Sale>(\"s\") |> groupby(note, id) |> aggregate(n = count())"),
        ["note"],
        "integer keys stay as they are"
    );
    assert!(
        dictionary("read_csv::<Sale>(\"s\") |> groupby(category) |> aggregate(n = count())")
            .is_empty(),
        "only parquet hands over dictionaries"
    );
    assert!(
        dictionary("read_parquet::<Sale>(\"s\") |> with_column(category = note.unwrap_or(\"-\")) |> groupby(category) |> aggregate(n = count())").is_empty(),
        "a computed key is not the file's column"
    );
    assert!(
        dictionary("read_parquet::<Sale>(\"s\") |> map_batches(|b: RecordBatch| b) |> groupby(category) |> aggregate(n = count())").is_empty(),
        "blocks built before the aggregate must hold plain strings"
    );
    assert!(
        dictionary(
            "read_parquet::<Sale>(\"s\") |> sort(id) |> groupby(category) |> aggregate(n = count())"
        )
        .is_empty()
    );
}

#[test]
fn grouping_errors_name_the_problem() {
    assert_eq!(
        errors_of("from_items::<Sale>(v) |> groupby(price) |> aggregate(n = count())"),
        [
            "cannot group by `price` of type f64: keys must be integers, strings, bools, binary or dates (floats have no reliable equality; round them to an integer column first)"
        ]
    );
    assert_eq!(
        errors_of("from_items::<Sale>(v) |> aggregate(total = sum(category))"),
        ["`sum` needs a numeric column, but `category` is String"]
    );
    assert_eq!(
        errors_of("from_items::<Sale>(v) |> aggregate(x: f64 = mean(price))"),
        ["the type of `mean` is known; remove the annotation"]
    );
    assert_eq!(
        errors_of("from_items::<Sale>(v) |> aggregate(x = agg(Custom, price))"),
        ["give the output type of a custom aggregate: `x: f64 = agg(...)`"]
    );
    assert_eq!(
        errors_of("from_items::<Sale>(v) |> groupby(id) |> aggregate(id = count())"),
        ["the output already has a column `id`"]
    );
    assert_eq!(
        errors_of("from_items::<Sale>(v) |> zip::<Line>(other)"),
        ["cannot zip `Sale` with `Line`: both have column(s) `id`; rename them on one side first"]
    );
}

/// Pipelines with a GPU stage whose emitted PTX is kept in `codegen/tests/ptx/<name>.ptx`
/// (CI runs ptxas over those files; `UPDATE_PTX=1` rewrites them).
const PTX_CASES: &[(&str, &str)] = &[
    (
        "digits_normalize",
        "from_items::<Digit>(v) |> with_columns(pixels: Tensor<f32, 8, 8> = image as f32 / 255.0 * 2.0 - 1.0, num_gpus = 1)",
    ),
    (
        "arithmetic",
        "from_items::<Reading>(v) |> with_columns(z = x * 2.0 + 1.5, w = y / (y + 1.0) - 0.25, m = n * 3 - 7, num_gpus = 1)",
    ),
    (
        "casts",
        "from_items::<Reading>(v) |> with_columns(a = x as f64, b = y as f32, c = y as u8, d = x as i64, e = n as f32, f = tiny as u64, g = big as i8, h = small as i32, num_gpus = 1)",
    ),
    (
        "comparisons",
        "from_items::<Reading>(v) |> with_columns(hot = x > 30.0 && n != 3, odd = !(y <= 1.0) || tiny == -3, pick: f64 = if n > 2 { y } else { -y }, num_gpus = 1)",
    ),
    (
        "functions",
        "from_items::<Reading>(v) |> with_columns(a = x.min(y as f32).max(0.0), b = y.abs().sqrt(), c = x.floor(), d = x.ceil(), f = n.abs(), g = small + 250, num_gpus = 2)",
    ),
];

fn kernel_of(pipeline: &str) -> crate::ptx::Kernel {
    let plan = checked(pipeline).unwrap();
    plan.stages
        .iter()
        .find_map(|s| s.op.gpu_kernel().cloned())
        .expect("a GPU stage")
}

#[test]
fn gpu_stages_lower_to_the_ptx_of_their_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ptx");
    let update = std::env::var_os("UPDATE_PTX").is_some();
    for (name, pipeline) in PTX_CASES {
        let kernel = kernel_of(pipeline);
        let path = dir.join(format!("{name}.ptx"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &kernel.ptx).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("no snapshot {}: run with UPDATE_PTX=1", path.display()));
        assert_eq!(
            kernel.ptx, expected,
            "{name}: the emitted PTX changed (UPDATE_PTX=1 to accept)"
        );
    }
}

#[test]
fn a_gpu_kernel_reads_each_column_once_and_writes_every_new_one() {
    let kernel = kernel_of(PTX_CASES[1].1);
    assert_eq!(
        kernel.inputs,
        [
            ("x".to_owned(), 4),
            ("y".to_owned(), 8),
            ("n".to_owned(), 4)
        ]
    );
    assert_eq!(kernel.outputs, ["z", "w", "m"]);
    assert_eq!(
        kernel.ptx.matches("ld.global.f64").count(),
        1,
        "y is loaded once"
    );
    // No contraction into fused multiply-adds: the CPU rounds each step.
    assert!(!kernel.ptx.contains("fma") && kernel.ptx.contains("mul.rn.f32"));
    let signatures = kernel.ptx.matches("\t.param ").count();
    assert_eq!(signatures, 1 + 3 + 3, "rows, three inputs, three outputs");
}

#[test]
fn a_gpu_stage_runs_on_its_own_between_fused_loops() {
    let plan = checked(
        "from_items::<Reading>(v) |> filter(x > 0.0) |> with_columns(z = x * 2.0, num_gpus = 1) |> with_column(w = z + 1.0)",
    )
    .unwrap();
    let segments = fusion::run(&plan);
    assert!(matches!(
        segments.as_slice(),
        [
            fusion::Segment::Fused { start: 0, end: 1 },
            fusion::Segment::Single(1),
            fusion::Segment::Fused { start: 2, end: 3 }
        ]
    ));
}

#[test]
fn what_a_gpu_stage_cannot_lower_is_an_error_at_each_token() {
    let errors = errors_of(
        "from_items::<Reading>(v) |> with_columns(a = x.exp(), b = n / 2, c = label.len() as i32, e = y % 2.0, num_gpus = 1)",
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors[0].contains("`.exp()` is not lowered to PTX"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("integer `/` and `%`"), "{}", errors[1]);
    assert!(
        errors[2].contains("column `label` is `String`"),
        "{}",
        errors[2]
    );
    assert!(errors[3].contains("float `%`"), "{}", errors[3]);
    // Without `gpus` the same expressions are fine on the CPU.
    assert!(checked("from_items::<Reading>(v) |> with_columns(a = x.exp(), b = n / 2, c = label.len() as i32, e = y % 2.0)").is_ok());
    let misuse = errors_of("from_items::<Reading>(v) |> with_column(a = x, b = y)");
    assert!(
        misuse[0].contains("use `with_columns` for several"),
        "{misuse:?}"
    );
    let twice = errors_of("from_items::<Reading>(v) |> with_columns(a = x, a = y)");
    assert!(
        twice[0].contains("column `a` is computed twice"),
        "{twice:?}"
    );
}

#[test]
fn with_columns_computes_every_column_from_the_input() {
    // `b` reads the input's `x`, not the `x` this stage computes.
    let plan =
        checked("from_items::<Reading>(v) |> with_columns(x = x * 2.0, b = x + 1.0)").unwrap();
    assert_eq!(
        plan.output().signature(),
        "{id: i64, x: f32, y: f64, n: i32, small: u8, tiny: i8, big: u64, label: String, b: f32}"
    );
}

#[test]
fn both_branches_of_an_if_read_columns() {
    // The `else` block is a branch over columns, not a `{ rust }` value.
    let plan =
        checked("from_items::<Sale>(v) |> with_column(p = if qty > 2 { price } else { -price })")
            .unwrap();
    assert_eq!(
        plan.output().column("p").unwrap().ltype,
        crate::types::LType::Float("f64")
    );
}

#[test]
fn expressions_over_tensors_are_elementwise_and_keep_the_shape() {
    let plan =
        checked("from_items::<Digit>(v) |> with_column(pixels = image as f32 / 255.0)").unwrap();
    assert_eq!(
        plan.output().column("pixels").unwrap().ltype.to_string(),
        "Tensor<f32, 8, 8>"
    );
    let kernel = kernel_of(PTX_CASES[0].1);
    assert_eq!(kernel.elements, 64);
    assert_eq!(kernel.inputs, [("image".to_owned(), 1)]);
    // Tensors of two shapes do not mix; a GPU stage over tensors reads only tensors.
    let shapes = errors_of("from_items::<Digit>(v) |> with_column(z = image + mask)");
    assert!(
        shapes[0].contains("elementwise arithmetic takes tensors of one shape"),
        "{shapes:?}"
    );
    let mixed = errors_of(
        "from_items::<Digit>(v) |> with_columns(a = image as f32, b = path.len() as i64, num_gpus = 1)",
    );
    assert!(
        mixed.iter().any(
            |e| e.contains("a GPU stage over tensors computes every column element by element")
        ),
        "{mixed:?}"
    );
}
