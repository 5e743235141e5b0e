use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
    qty: i32,
    note: Option<String>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Summary {
    id: i64,
    total: f64,
}

fn sales() -> Vec<Sale> {
    (0..100)
        .map(|i| Sale {
            id: i,
            category: ["books", "games", "food"][i as usize % 3].to_owned(),
            price: i as f64 * 1.5,
            qty: (i % 4) as i32,
            note: (i % 5 == 0).then(|| format!("note {i}")),
        })
        .collect()
}

#[test]
fn smoke() {
    let ds = pipeline! {
        from_items::<Sale>(sales())
        |> filter(price > 10 && qty >= 2)
        |> with_column(revenue = price * qty as f64)
        |> map(|s| -> Summary { Summary { id: s.id, total: s.revenue } })
        |> filter(total > 100.0)
    };
    println!("{}", ds.explain());
    let rows = ds.take_all().unwrap();
    let expected: Vec<Summary> = sales()
        .into_iter()
        .filter(|s| s.price > 10.0 && s.qty >= 2)
        .map(|s| Summary {
            id: s.id,
            total: s.price * s.qty as f64,
        })
        .filter(|s| s.total > 100.0)
        .collect();
    assert_eq!(rows, expected);
}
