use aqueduct::preprocess::StandardScaler;

fn main() {
    // Only a fitted preprocessor transforms.
    let scaler = StandardScaler::new(["price"]);
    let _ = scaler.transform_fn();
}
