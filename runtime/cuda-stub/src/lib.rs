//! Nothing to call: this crate's build script is its whole job (see `build.rs`). It lets
//! `cust` link where no CUDA driver is installed, so that the `cuda` feature builds and its
//! tests run (and report "no device") on any machine.
