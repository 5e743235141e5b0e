use aqueduct::prelude::*;

struct Plain {
    id: i64,
}

fn main() {
    let _sales = pipeline! { from_items::<Plain>(Vec::new()) };
    let _typo = pipeline! { from_items::<Sael>(Vec::new()) };
}
