//! The standalone binary of `examples/sales_report.rs`, built and run as a user would.

#[path = "shared/example.rs"]
mod example;

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(example::example("sales_report"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AQUEDUCT_PROGRESS", "0")
        .output()
        .expect("the example runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_explain_and_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let report = format!("report={}", out.display());

    let explain = run(&["explain"]);
    assert!(explain.status.success());
    assert!(text(&explain.stdout).contains("fused[filter → with_column → select]"));
    assert!(!out.exists(), "explain runs nothing");

    let graph = run(&["explain", "--graph", "dot", "--output", &report]);
    assert!(
        text(&graph.stdout).starts_with("digraph pipeline {"),
        "{}",
        text(&graph.stdout)
    );

    let ran = run(&["--output", &report, "--threads", "1", "--memory", "64MiB"]);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert!(
        text(&ran.stderr).contains("wrote 30327 rows"),
        "{}",
        text(&ran.stderr)
    );
    let parts = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("part-")
        })
        .count();
    assert_eq!(parts, 4);
    assert!(std::path::Path::new(&out).join("_SUCCESS").exists());
    // The program's body ran once (it prints where the report goes).
    assert_eq!(text(&ran.stderr).matches("report: ").count(), 1);

    // The program overwrites its report; the command line can ask otherwise.
    let refused = run(&["--output", &report, "--mode", "error_if_exists"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("already holds 4 file(s)"),
        "{}",
        text(&refused.stderr)
    );
    let appended = run(&["--output", &report, "--mode", "append"]);
    assert!(appended.status.success(), "{}", text(&appended.stderr));
    let parts = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(parts, 9, "8 parts and the marker");
    let bad_mode = run(&["--mode", "replace"]);
    assert_eq!(bad_mode.status.code(), Some(2));

    let stats = run(&["stats", "--json", "--output", &report]);
    assert!(stats.status.success(), "{}", text(&stats.stderr));
    let json: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let (_, run_stats) = json.as_object().unwrap().iter().next().unwrap();
    let operators = run_stats["operators"].as_array().unwrap();
    assert_eq!(operators.len(), 3);
    assert_eq!(operators[1]["rows_in"], 40000);
    assert_eq!(operators[2]["rows_in"], 30327);
}

#[test]
fn overrides_and_bad_input_are_clear_errors() {
    let unknown = run(&["--input", "nope=/tmp/x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("no input `nope`; its inputs: sales"),
        "{}",
        text(&unknown.stderr)
    );

    let missing = run(&["--input", "sales=/definitely/not/here.parquet"]);
    assert_eq!(missing.status.code(), Some(1));
    let message = text(&missing.stderr);
    assert!(
        message
            .lines()
            .any(|l| l.starts_with("error: ") && l.contains("/definitely/not/here.parquet")),
        "{message}"
    );

    let memory = run(&["--memory", "lots"]);
    assert_eq!(memory.status.code(), Some(2));
    assert!(
        text(&memory.stderr).contains("--memory takes a size"),
        "{}",
        text(&memory.stderr)
    );

    let option = run(&["--store-option", "timeout"]);
    assert_eq!(option.status.code(), Some(2));
    assert!(
        text(&option.stderr).contains("--store-option takes KEY=VALUE, got `timeout`"),
        "{}",
        text(&option.stderr)
    );
    // Settings of remote stores are accepted (the shipped data is local: they change nothing).
    let dir = std::env::temp_dir().join(format!("aqueduct-cli-store-{}", std::process::id()));
    let report = format!("report={}", dir.display());
    let ran = run(&[
        "--store-option",
        "timeout=30s",
        "--store-retries",
        "3",
        "--store-retry-timeout",
        "60",
        "--output",
        &report,
    ]);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    let _ = std::fs::remove_dir_all(dir);

    let flag = run(&["--frobnicate"]);
    assert_eq!(flag.status.code(), Some(2));
}
