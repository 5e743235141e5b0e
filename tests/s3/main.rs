//! End to end through a real S3 API: moto's server on 127.0.0.1 (`server.rs`), reached the
//! way a user reaches S3 — `s3://bucket/prefix/...` URLs, the endpoint, region and keys from
//! `AWS_*` environment variables, store options on top.
//!
//! `cargo test --test s3`. Without moto (`.ci/moto` installs it) every case reports itself
//! skipped, by name (never passed); `AQUEDUCT_REQUIRE_S3=1` (set by CI) makes that a failure.

mod cases;
#[path = "../shared/example.rs"]
mod example;
mod logs;
mod proxy;
mod server;

use std::panic::AssertUnwindSafe;
use std::time::Instant;

pub use server::Server;

/// What a case gets: the server and a prefix of the bucket of its own.
pub struct Ctx<'a> {
    pub server: &'a Server,
    /// `s3://aqueduct/<case>`.
    pub prefix: String,
}

pub type Case = (&'static str, fn(&Ctx));

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let cases: Vec<Case> = cases::all()
        .into_iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .collect();
    let server = match Server::start() {
        Ok(server) => server,
        Err(why) => {
            for (name, _) in &cases {
                println!("test {name} ... skipped ({why})");
            }
            println!("\ns3: 0 passed; 0 failed; {} skipped\n", cases.len());
            if std::env::var("AQUEDUCT_REQUIRE_S3").is_ok_and(|v| v == "1") {
                println!("AQUEDUCT_REQUIRE_S3=1: the S3 server is required");
                std::process::exit(1);
            }
            return;
        }
    };
    // As a user points aqueduct at an S3-compatible server.
    // SAFETY: no other thread runs yet.
    unsafe {
        std::env::set_var("AWS_ENDPOINT", &server.endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", &server.access_key);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", &server.secret_key);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ALLOW_HTTP", "true");
    }
    logs::capture();
    let start = Instant::now();
    let (mut passed, mut failed) = (0, Vec::new());
    for (name, case) in &cases {
        let ctx = Ctx {
            server: &server,
            prefix: format!("s3://aqueduct/{name}"),
        };
        let case_start = Instant::now();
        match std::panic::catch_unwind(AssertUnwindSafe(|| case(&ctx))) {
            Ok(()) => {
                passed += 1;
                println!(
                    "test {name} ... ok ({:.1}s)",
                    case_start.elapsed().as_secs_f64()
                );
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("test {name} ... FAILED: {message}");
                failed.push(*name);
            }
        }
        // Options a case set must not leak into the next.
        aqueduct::storage::set_store_options(Default::default());
    }
    println!(
        "\ns3 (moto at {}): {passed} passed; {} failed; 0 skipped in {:.1}s\n",
        server.endpoint,
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        println!("failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}
