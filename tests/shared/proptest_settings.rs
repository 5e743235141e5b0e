//! How many cases a property test runs, and from which seed: the same cases every `cargo test`
//! and CI run; `PROPTEST_CASES=N PROPTEST_RNG_SEED=random` is the long mode that explores.

/// `PROPTEST_CASES`, or `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

/// The cases' seed: fixed unless `PROPTEST_RNG_SEED` says `random` (or another number).
pub fn seed() -> proptest::test_runner::RngSeed {
    match std::env::var("PROPTEST_RNG_SEED").ok().as_deref() {
        Some("random") => proptest::test_runner::RngSeed::Random,
        Some(seed) => proptest::test_runner::RngSeed::Fixed(seed.parse().unwrap_or(7)),
        None => proptest::test_runner::RngSeed::Fixed(7),
    }
}
