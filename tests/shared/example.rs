//! A runnable example, for tests that run one as a user would.

use std::path::PathBuf;
use std::process::Command;

/// `examples/<name>`, as `cargo test` built it beside the tests; built now (same profile)
/// when missing, as when only one test target was asked for. Not rebuilt when present:
/// `cargo build --example` alone resolves features differently from `cargo test
/// --workspace` and would rebuild half the workspace. After changing code, run `cargo test`
/// (or `cargo build --example <name>`) rather than one test target, or its example is stale.
pub fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let profile = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let binary = profile.join("examples").join(name);
    if built.iter().any(|b| b == name) || binary.exists() {
        return binary;
    }
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--example", name]);
    if profile.ends_with("release") {
        build.arg("--release");
    }
    let status = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building examples/{name} failed");
    built.push(name.to_owned());
    binary
}
