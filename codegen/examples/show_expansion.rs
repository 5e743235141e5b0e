fn main() {
    let input = std::env::args().nth(1).expect("pipeline tokens");
    let tokens: proc_macro2::TokenStream = input.parse().expect("valid tokens");
    println!(
        "fn main() {{ let _ = {}; }}",
        aqueduct_codegen::pipeline(tokens)
    );
}
