//! The `pipeline!` front end (codegen as a library) and `#[derive(Record)]` on any token
//! stream: tokens or compile errors, never a panic. The corpus starts from the pipelines of
//! the tests and compile-fail cases.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let Ok(tokens) = proc_macro2::TokenStream::from_str(text) else {
        return;
    };
    if control & 1 == 0 {
        let _ = aqueduct_codegen::pipeline(tokens);
    } else {
        let _ = aqueduct_codegen::derive_record(tokens);
    }
});
