//! Records defined in other modules, named by path or imported, reach `pipeline!` with their
//! schemas (the derive's schema macro travels with the type's name).

mod model {
    pub mod sales {
        use aqueduct::Record;

        #[derive(Record, Debug, Clone, PartialEq)]
        pub struct Sale {
            pub id: i64,
            pub price: f64,
        }
    }

    #[derive(aqueduct::Record, Debug, Clone, PartialEq)]
    pub struct Total {
        pub id: i64,
        pub total: f64,
    }
}

use aqueduct::pipeline;
use model::Total;

fn sales() -> Vec<model::sales::Sale> {
    (0..10)
        .map(|id| model::sales::Sale {
            id,
            price: id as f64,
        })
        .collect()
}

#[test]
fn records_by_path_and_by_import() {
    let ds = pipeline! {
        from_items::<model::sales::Sale>(sales())
        |> filter(price >= 5.0)
        |> map(|s| -> Total { Total { id: s.id, total: s.price * 2.0 } })
    };
    let totals = ds.take_all().unwrap();
    assert_eq!(totals.len(), 5);
    assert_eq!(totals[0], Total { id: 5, total: 10.0 });
}

#[test]
fn records_imported_with_a_glob() {
    use model::sales::*;
    let ds = pipeline! { from_items::<Sale>(sales()) |> with_column(half = price / 2.0) };
    assert_eq!(ds.take(1).unwrap()[0].half, 0.0);
}
