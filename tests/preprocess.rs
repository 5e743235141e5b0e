//! Preprocessors: fit in one pass, transform inside a pipeline, save and load; each result
//! checked against a computation by hand.

use aqueduct::prelude::*;
use aqueduct::preprocess::{
    Chain, Concatenator, Fitted, LabelEncoder, MaxAbsScaler, MinMaxScaler, Norm, Normalizer,
    OneHotEncoder, OrdinalEncoder, Preprocessor, RobustScaler, SimpleImputer, StandardScaler,
    Strategy,
};

#[derive(Record, Debug, Clone, PartialEq)]
struct House {
    rooms: i32,
    area: f64,
    city: String,
    age: Option<f64>,
}

/// The houses with every numeric column as `f64` (what the scalers make of them).
#[derive(Record, Debug, Clone, PartialEq)]
struct Scaled {
    rooms: f64,
    area: f64,
    city: String,
    age: Option<f64>,
}

fn houses() -> Vec<House> {
    let cities = ["oslo", "bergen", "tromso", "oslo", "bergen"];
    (0..20_000)
        .map(|i| House {
            rooms: 1 + (i * 7 % 9),
            area: 20.0 + ((i * 37) % 400) as f64 * 0.5,
            city: cities[(i % 5) as usize].to_owned(),
            age: (i % 4 != 0).then_some((i % 90) as f64),
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn scaled(fitted: &Fitted) -> Vec<Scaled> {
    let transform = fitted.transform_fn();
    pipeline! {
        from_items::<House>(houses())
        |> map_batches::<Scaled>(transform)
    }
    .with_preserve_order(true)
    .take_all()
    .unwrap()
}

#[test]
fn standard_min_max_max_abs_and_robust_scalers() {
    let data = houses();
    let ds = pipeline! { from_items::<House>(houses()) };
    let area: Vec<f64> = data.iter().map(|h| h.area).collect();
    let n = area.len() as f64;
    let mean = area.iter().sum::<f64>() / n;
    let std = (area.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();

    let standard = StandardScaler::new(["area", "rooms"]).fit(&ds).unwrap();
    for (row, house) in scaled(&standard).iter().zip(&data) {
        assert!(close(row.area, (house.area - mean) / std));
    }

    let (min, max) = area
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let min_max = MinMaxScaler::new(["area"]).fit(&ds).unwrap();
    let rows = scaled(&min_max);
    for (row, house) in rows.iter().zip(&data) {
        assert!(close(row.area, (house.area - min) / (max - min)));
        assert_eq!(row.rooms, house.rooms as f64, "other columns untouched");
    }

    let max_abs = MaxAbsScaler::new(["rooms"]).fit(&ds).unwrap();
    for (row, house) in scaled(&max_abs).iter().zip(&data) {
        assert!(close(row.rooms, house.rooms as f64 / 9.0));
    }

    let mut sorted = area.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = p * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    let robust = RobustScaler::new(["area"]).fit(&ds).unwrap();
    for (row, house) in scaled(&robust).iter().zip(&data) {
        assert!(close(row.area, (house.area - q(0.5)) / (q(0.75) - q(0.25))));
    }
}

#[test]
fn normalizer_imputer_and_concatenator() {
    let data = houses();
    let ds = pipeline! { from_items::<House>(houses()) };
    let normalizer = Normalizer::new(["rooms", "area"], Norm::L2)
        .fit(&ds)
        .unwrap();
    for (row, house) in scaled(&normalizer).iter().zip(&data) {
        let norm = ((house.rooms as f64).powi(2) + house.area.powi(2)).sqrt();
        assert!(close(row.area, house.area / norm));
        assert!(close(row.rooms, house.rooms as f64 / norm));
    }

    #[derive(Record, Debug, Clone, PartialEq)]
    struct Filled {
        rooms: i32,
        area: f64,
        city: String,
        age: f64,
    }
    let ages: Vec<f64> = data.iter().filter_map(|h| h.age).collect();
    let mean_age = ages.iter().sum::<f64>() / ages.len() as f64;
    let imputer = SimpleImputer::new(["age"], Strategy::Mean)
        .fit(&ds)
        .unwrap();
    let transform = imputer.transform_fn();
    let filled = pipeline! { from_items::<House>(houses()) |> map_batches::<Filled>(transform) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    for (row, house) in filled.iter().zip(&data) {
        assert!(close(row.age, house.age.unwrap_or(mean_age)));
    }
    let constant = SimpleImputer::new(["age"], Strategy::Constant(-1.0))
        .fit(&ds)
        .unwrap();
    let most = SimpleImputer::new(["rooms"], Strategy::MostFrequent)
        .fit(&ds)
        .unwrap();
    assert!(matches!(constant, Fitted::SimpleImputer { ref fills, .. } if fills == &[-1.0]));
    let mut counts = std::collections::BTreeMap::<i32, usize>::new();
    for h in &data {
        *counts.entry(h.rooms).or_default() += 1;
    }
    let top = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .unwrap()
        .0;
    assert!(matches!(most, Fitted::SimpleImputer { ref fills, .. } if fills == &[*top as f64]));

    #[derive(Record, Debug, Clone, PartialEq)]
    struct Features {
        city: String,
        features: Vec<f32>,
    }
    let concat = Concatenator::new(["rooms", "area"])
        .output("features")
        .fit(&ds)
        .unwrap();
    let transform = concat.transform_fn();
    let rows = pipeline! {
        from_items::<House>(houses())
        |> drop(age)
        |> map_batches::<Features>(transform)
    }
    .with_preserve_order(true)
    .take_all()
    .unwrap();
    assert_eq!(
        rows[3].features,
        vec![data[3].rooms as f32, data[3].area as f32]
    );
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Encoded {
    rooms: i32,
    area: f64,
    city: Vec<f32>,
    age: Option<f64>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Coded {
    rooms: i32,
    area: f64,
    city: Option<i64>,
    age: Option<f64>,
}

#[test]
fn encoders_use_the_sorted_categories_seen_when_fitting() {
    let data = houses();
    let ds = pipeline! { from_items::<House>(houses()) };
    let one_hot = OneHotEncoder::new(["city"]).fit(&ds).unwrap();
    let transform = one_hot.transform_fn();
    let rows = pipeline! { from_items::<House>(houses()) |> map_batches::<Encoded>(transform) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    let cities = ["bergen", "oslo", "tromso"];
    for (row, house) in rows.iter().zip(&data) {
        let want: Vec<f32> = cities
            .iter()
            .map(|c| if *c == house.city { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(row.city, want);
    }
    let ordinal = OrdinalEncoder::new(["city"]).fit(&ds).unwrap();
    let label = LabelEncoder::new("city").fit(&ds).unwrap();
    for fitted in [ordinal, label] {
        let transform = fitted.transform_fn();
        let rows = pipeline! { from_items::<House>(houses()) |> map_batches::<Coded>(transform) }
            .with_preserve_order(true)
            .take_all()
            .unwrap();
        for (row, house) in rows.iter().zip(&data) {
            let want = cities.iter().position(|c| *c == house.city).unwrap() as i64;
            assert_eq!(row.city, Some(want));
        }
    }
}

#[test]
fn a_chain_fits_each_step_on_the_previous_ones_output_and_round_trips_through_json() {
    let data = houses();
    let ds = pipeline! { from_items::<House>(houses()) };
    // Impute, then standardize the imputed column: the scaler sees no nulls.
    let chain = Chain::new(vec![
        Box::new(SimpleImputer::new(["age"], Strategy::Constant(0.0))),
        Box::new(StandardScaler::new(["age"])),
    ])
    .fit(&ds)
    .unwrap();
    let ages: Vec<f64> = data.iter().map(|h| h.age.unwrap_or(0.0)).collect();
    let mean = ages.iter().sum::<f64>() / ages.len() as f64;
    let Fitted::Chain(steps) = &chain else {
        panic!("a chain")
    };
    assert!(matches!(&steps[1], Fitted::StandardScaler { means, .. } if close(means[0], mean)));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.json");
    chain.save(path.to_str().unwrap()).unwrap();
    let loaded = Fitted::load(path.to_str().unwrap()).unwrap();
    assert_eq!(loaded, chain);
    assert_eq!(scaled(&loaded), scaled(&chain));

    // A file that cannot be written names itself and keeps the system's error.
    let nowhere = dir.path().join("missing").join("chain.json");
    let error = chain.save(nowhere.to_str().unwrap()).unwrap_err();
    let aqueduct::Error::Write {
        url,
        reason: aqueduct::Cause::Io(io),
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(url.ends_with("missing/chain.json"), "{url}");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn bad_columns_and_files_are_clear_errors() {
    let ds = pipeline! { from_items::<House>(houses()) };
    let err = StandardScaler::new(["size"])
        .fit(&ds)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("StandardScaler(size)") && err.contains("no column `size`"),
        "{err}"
    );
    let err = MinMaxScaler::new(["city"])
        .fit(&ds)
        .unwrap_err()
        .to_string();
    assert!(err.contains("column `city` is Utf8, not numeric"), "{err}");
    let empty = pipeline! { from_items::<House>(Vec::new()) };
    let err = StandardScaler::new(["area"])
        .fit(&empty)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column `area` has no values to fit on"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.json");
    std::fs::write(&path, "{\"Nonsense\": 1}").unwrap();
    let error = Fitted::load(path.to_str().unwrap()).unwrap_err();
    let err = error.to_string();
    assert!(err.contains("not a fitted preprocessor"), "{err}");
    // The JSON parser's error is there to match on.
    let aqueduct::Error::Corrupt {
        reason: aqueduct::Cause::Context { source, .. },
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(matches!(**source, aqueduct::Cause::Json(_)), "{error:?}");
}
