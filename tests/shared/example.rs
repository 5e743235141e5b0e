//! A runnable example, for tests that run one as a user would.

use std::path::PathBuf;
use std::process::Command;

/// `examples/<name>`, built with this test's profile. Asks cargo to build it once per test
/// process (a no-op when it is fresh): a test run on its own (`cargo test --test cli`) does
/// not build examples, and a stale binary would test old code.
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
    if built.iter().any(|b| b == name) {
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
