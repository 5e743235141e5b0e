use std::collections::HashMap;

use aqueduct::prelude::*;

#[derive(Record)]
struct Bad {
    id: i64,
    lookup: HashMap<String, i64>,
}

#[derive(Record)]
struct Tuple(i64, f64);

#[derive(Record)]
enum NotAStruct {
    A,
}

fn main() {}
