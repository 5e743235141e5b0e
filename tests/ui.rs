//! Compile-fail tests: each `tests/ui/*.rs` must fail to compile with exactly the errors in
//! its `.stderr` snapshot. Snapshots follow the output of the toolchain this project pins
//! (rustc 1.95); regenerate them with `TRYBUILD=overwrite cargo test --test ui` after a
//! toolchain change and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
