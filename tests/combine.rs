//! Column aggregates as consumers, union, zip, split, train_test_split and `shuffle = files`.

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Sale {
    id: i64,
    price: f64,
    qty: Option<i32>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Score {
    score: f32,
}

fn sales(n: i64) -> Vec<Sale> {
    (0..n)
        .map(|id| Sale {
            id,
            price: (id % 100) as f64 / 4.0,
            qty: (id % 5 != 0).then_some((id % 7) as i32),
        })
        .collect()
}

#[test]
fn column_aggregates_as_consumers() {
    let rows = sales(30_000);
    let ds = pipeline! { from_items::<Sale>(rows.clone()) };
    assert_eq!(
        ds.sum::<i64>("id").unwrap(),
        rows.iter().map(|s| s.id).sum::<i64>()
    );
    let qty: Vec<i32> = rows.iter().filter_map(|s| s.qty).collect();
    assert_eq!(
        ds.sum::<i32>("qty").unwrap(),
        qty.iter().map(|&q| q as i64).sum::<i64>()
    );
    assert_eq!(ds.min::<i32>("qty").unwrap(), qty.iter().copied().min());
    assert_eq!(ds.max::<f64>("price").unwrap(), Some(24.75));
    let mean = rows.iter().map(|s| s.price).sum::<f64>() / rows.len() as f64;
    assert!((ds.mean::<f64>("price").unwrap().unwrap() - mean).abs() < 1e-9);
    let var = rows.iter().map(|s| (s.price - mean).powi(2)).sum::<f64>() / rows.len() as f64;
    assert!((ds.std::<f64>("price", 0).unwrap().unwrap() - var.sqrt()).abs() < 1e-9);

    let empty = pipeline! { from_items::<Sale>(Vec::new()) };
    assert_eq!(empty.sum::<f64>("price").unwrap(), 0.0);
    assert_eq!(empty.mean::<f64>("price").unwrap(), None);

    let wrong_type = ds.sum::<i32>("price").unwrap_err().to_string();
    assert!(
        wrong_type.contains("column `price` has type Float64 but is declared as Int32"),
        "{wrong_type}"
    );
    let missing = ds.sum::<f64>("prce").unwrap_err().to_string();
    assert!(
        missing.contains("no column `prce`; the columns are id, price, qty"),
        "{missing}"
    );
}

#[test]
fn union_reads_every_input_with_its_stages() {
    let a = pipeline! { from_items::<Sale>(sales(20_000)) |> filter(id % 2 == 0) };
    let b = pipeline! { from_items::<Sale>(sales(100)) |> limit(10) };
    let c = pipeline! { from_items::<Sale>(sales(50)) };
    let all = a.union(&[&b, &c]).with_preserve_order(true);
    let ids: Vec<i64> = all.take_all().unwrap().iter().map(|s| s.id).collect();
    let mut want: Vec<i64> = (0..20_000).filter(|i| i % 2 == 0).collect();
    want.extend(0..10);
    want.extend(0..50);
    assert_eq!(ids, want);
    assert_eq!(all.count().unwrap(), want.len());
}

#[test]
fn zip_puts_columns_side_by_side_row_by_row() {
    let rows = sales(100_000);
    let scores: Vec<Score> = (0..100_000)
        .map(|i| Score {
            score: i as f32 / 2.0,
        })
        .collect();
    let scores = pipeline! { from_items::<Score>(scores) };
    let zipped = pipeline! {
        from_items::<Sale>(rows.clone())
        |> select(id, price)
        |> zip::<Score>(scores.clone())
        |> filter(score * 2.0 == id as f32)
    };
    assert_eq!(
        zipped.count().unwrap(),
        100_000,
        "every row met its partner"
    );
    let first = zipped.take(3).unwrap();
    assert_eq!(first.len(), 3);

    let short = pipeline! { from_items::<Sale>(sales(10)) |> zip::<Score>(scores) };
    let err = short.count().unwrap_err().to_string();
    assert!(
        err.contains("the datasets differ in length: 10 rows and 100000 rows"),
        "{err}"
    );
}

#[test]
fn split_and_train_test_split() {
    let ds = pipeline! { from_items::<Sale>(sales(1_001)) };
    let parts = ds.split(4).unwrap();
    let sizes: Vec<usize> = parts.iter().map(|p| p.count().unwrap()).collect();
    assert_eq!(sizes, vec![250, 250, 250, 251]);
    let ids: Vec<i64> = parts.iter().flat_map(ids_of).collect();
    assert_eq!(ids, (0..1_001).collect::<Vec<_>>());

    let (train, test) = ds.train_test_split(0.25, Some(9)).unwrap();
    let (train_ids, test_ids) = (ids_of(&train), ids_of(&test));
    assert_eq!((train_ids.len(), test_ids.len()), (750, 251));
    let mut all: Vec<i64> = train_ids.iter().chain(&test_ids).copied().collect();
    assert_ne!(all, (0..1_001).collect::<Vec<_>>(), "shuffled");
    all.sort();
    assert_eq!(all, (0..1_001).collect::<Vec<_>>());
    let (again, _) = ds.train_test_split(0.25, Some(9)).unwrap();
    assert_eq!(ids_of(&again), train_ids, "the same seed, the same split");
    let (ordered, _) = ds.train_test_split(0.5, None).unwrap();
    assert_eq!(ids_of(&ordered), (0..500).collect::<Vec<_>>());
    assert!(ds.split(0).is_err());
    assert!(ds.train_test_split(1.5, None).is_err());
}

fn ids_of(ds: &Dataset<Sale>) -> Vec<i64> {
    ds.clone()
        .with_preserve_order(true)
        .take_all()
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect()
}

#[test]
fn shuffle_files_reads_files_in_a_seeded_order() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        let path = dir.path().join(format!("part-{i:02}.parquet"));
        let batch = Sale::to_batch(
            &sales(10)
                .into_iter()
                .map(|s| Sale {
                    id: s.id + 10 * i,
                    ..s
                })
                .collect::<Vec<_>>(),
        );
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
    let location = dir.path().to_str().unwrap().to_owned();
    let read = |seed: u64| -> Vec<i64> {
        pipeline! { read_parquet::<Sale>(location.clone(), shuffle = files, seed = seed) }
            .with_preserve_order(true)
            .take_all()
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect()
    };
    let a = read(1);
    assert_eq!(a, read(1));
    assert_ne!(a, read(2));
    assert_ne!(a, (0..200).collect::<Vec<_>>());
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..200).collect::<Vec<_>>());
    // Files stay whole: ids come in runs of ten.
    assert!(a.chunks(10).all(|c| c.windows(2).all(|w| w[1] == w[0] + 1)));
}
