//! A runnable example, for tests that run one as a user would.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `examples/<name>` built from the code and with the features this test was built with.
///
/// Why cargo is asked here, once per test process: the binary at `target/<profile>/examples/
/// <name>` is whichever build ran last (a `cargo test --features cuda` leaves a binary that
/// needs a CUDA driver; a single test target leaves a stale one). Cargo's answer names the
/// binary of exactly this feature set (its hashed file), rebuilding it if the code changed.
/// The flags mirror how the tests are run (`cargo test --workspace`, or `--features cuda`
/// for the GPU checks) so that cargo finds the test run's own build and compiles nothing.
pub fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, binary)) = built.iter().find(|(n, _)| n == name) {
        return binary.clone();
    }
    let mut cargo = Command::new(env!("CARGO"));
    // Not `--example <name>`, which builds it as a test harness: a plain `cargo test` builds
    // every example as the program it is.
    cargo.args(["test", "--no-run", "--message-format=json"]);
    if cfg!(feature = "cuda") {
        cargo.args(["--features", "cuda"]);
    } else {
        cargo.arg("--workspace");
    }
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let output = cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building examples/{name} failed");
    let binary = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == name)
        .filter(|message| message["target"]["kind"][0] == "example")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo named no binary for examples/{name}"));
    built.push((name.to_owned(), binary.clone()));
    binary
}
