//! The built-in aggregates. Those that may see no value (`min`, `mean`, ...) output `Option`:
//! a whole-dataset aggregate of an empty dataset, or a group whose values are all null, has no
//! minimum.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Aggregator;
use crate::record::{Field, ListItem};

/// A column type whose values can be kept in an aggregate's state.
pub trait Ordered: Field + Clone + Serialize + DeserializeOwned {
    /// The borrowed form of an owned value.
    fn borrow(&self) -> Self::Ref<'_>;
    /// Whether `a` should replace `b` as the minimum (NaN never replaces a number).
    fn lower(a: Self::Ref<'_>, b: Self::Ref<'_>) -> bool;
    /// Whether `a` should replace `b` as the maximum.
    fn higher(a: Self::Ref<'_>, b: Self::Ref<'_>) -> bool;
    /// Make `target` equal to `value` (types that own a buffer reuse it).
    #[inline(always)]
    fn assign(target: &mut Self, value: Self::Ref<'_>) {
        *target = Self::to_owned(value);
    }
}

macro_rules! ordered_by_value {
    ($($ty:ty),*) => {$(
        impl Ordered for $ty {
            #[inline(always)]
            fn borrow(&self) -> $ty { *self }
            #[inline(always)]
            fn lower(a: $ty, b: $ty) -> bool { a < b }
            #[inline(always)]
            fn higher(a: $ty, b: $ty) -> bool { a > b }
        }
    )*};
}
ordered_by_value!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    bool,
    chrono::NaiveDate,
    chrono::NaiveDateTime,
    chrono::DateTime<chrono::Utc>
);

macro_rules! ordered_float {
    ($($ty:ty),*) => {$(
        impl Ordered for $ty {
            #[inline(always)]
            fn borrow(&self) -> $ty { *self }
            // −0.0 is below +0.0 (IEEE 754's minimum and maximum): with `==` between them the
            // result would depend on the order rows arrive in, which spilling changes.
            #[inline(always)]
            fn lower(a: $ty, b: $ty) -> bool {
                a < b
                    || (a == b && a.is_sign_negative() && b.is_sign_positive())
                    || (b.is_nan() && !a.is_nan())
            }
            #[inline(always)]
            fn higher(a: $ty, b: $ty) -> bool {
                a > b
                    || (a == b && a.is_sign_positive() && b.is_sign_negative())
                    || (b.is_nan() && !a.is_nan())
            }
        }
    )*};
}
ordered_float!(f32, f64);

impl Ordered for String {
    fn borrow(&self) -> &str {
        self
    }
    fn assign(target: &mut String, value: &str) {
        target.clear();
        target.push_str(value);
    }
    fn lower(a: &str, b: &str) -> bool {
        a < b
    }
    fn higher(a: &str, b: &str) -> bool {
        a > b
    }
}

/// A number: what `sum`, `mean`, `std`, `absmax` and `quantile` take.
pub trait Numeric: for<'a> Field<Ref<'a> = Self> + Ordered + Copy {
    /// The type of a sum: `i64` for signed integers, `u64` for unsigned, `f64` for floats.
    type Total: Field + Copy + Default + Serialize + DeserializeOwned;
    /// A sum in the making: 128 bits for integers, so that a sum whose result fits `Total`
    /// never fails on the way there, whatever order the values come in (a checked `i64` sum
    /// of `MAX, 1, -1` fails and of `MAX, -1, 1` does not; the order depends on splits).
    type Partial: Copy + Default + Send + Serialize + DeserializeOwned + 'static;
    /// `partial + self`.
    fn add_to(self, partial: Self::Partial) -> Self::Partial;
    /// `a + b` of two partial sums.
    fn add_partials(a: Self::Partial, b: Self::Partial) -> Self::Partial;
    /// The sum as a `Total`. One that does not fit panics (reported as an error of the stage).
    fn total(partial: Self::Partial) -> Self::Total;
    /// The value as a float.
    fn to_f64(self) -> f64;
    /// The absolute value (panics where it does not fit, as for `i64::MIN`).
    fn abs(self) -> Self;
}

macro_rules! numeric_int {
    ($total:ty, $partial:ty; $($ty:ty),*) => {$(
        impl Numeric for $ty {
            type Total = $total;
            type Partial = $partial;
            // 2^64 values of 2^63 each fit 128 bits: these additions cannot overflow.
            #[inline(always)]
            fn add_to(self, partial: $partial) -> $partial {
                partial + self as $partial
            }
            #[inline(always)]
            fn add_partials(a: $partial, b: $partial) -> $partial {
                a + b
            }
            fn total(partial: $partial) -> $total {
                <$total>::try_from(partial).unwrap_or_else(|_| {
                    panic!("sum overflows {}: the sum is {partial}", stringify!($total))
                })
            }
            fn to_f64(self) -> f64 { self as f64 }
            #[allow(unused_comparisons)]
            fn abs(self) -> Self {
                if self >= 0 { return self }
                (0 as $ty).checked_sub(self)
                    .unwrap_or_else(|| panic!("the absolute value of {self} does not fit {}", stringify!($ty)))
            }
        }
    )*};
}
numeric_int!(i64, i128; i8, i16, i32, i64);
numeric_int!(u64, u128; u8, u16, u32, u64);

macro_rules! numeric_float {
    ($($ty:ty),*) => {$(
        impl Numeric for $ty {
            type Total = f64;
            type Partial = f64;
            #[inline(always)]
            fn add_to(self, partial: f64) -> f64 { partial + self as f64 }
            #[inline(always)]
            fn add_partials(a: f64, b: f64) -> f64 { a + b }
            fn total(partial: f64) -> f64 { partial }
            fn to_f64(self) -> f64 { self as f64 }
            fn abs(self) -> Self { <$ty>::abs(self) }
        }
    )*};
}
numeric_float!(f32, f64);

/// Number of values (non-null values of a nullable column; rows for `count()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Count;

impl<T: Field> Aggregator<T> for Count {
    type State = u64;
    type Output = u64;
    fn init(&self) -> u64 {
        0
    }
    #[inline(always)]
    fn accumulate(&self, state: &mut u64, _: T::Ref<'_>) {
        *state += 1;
    }
    fn merge(&self, state: &mut u64, other: u64) {
        *state += other;
    }
    fn finish(&self, state: u64) -> u64 {
        state
    }
}

/// The sum (0 for no values).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum;

impl<T: Numeric> Aggregator<T> for Sum {
    type State = T::Partial;
    type Output = T::Total;
    fn init(&self) -> T::Partial {
        T::Partial::default()
    }
    #[inline(always)]
    fn accumulate(&self, state: &mut T::Partial, value: T) {
        *state = value.add_to(*state);
    }
    fn merge(&self, state: &mut T::Partial, other: T::Partial) {
        *state = T::add_partials(*state, other);
    }
    fn finish(&self, state: T::Partial) -> T::Total {
        T::total(state)
    }
}

/// Keep `value` in `slot`, reusing the allocation of the value it replaces.
#[inline(always)]
fn keep<T: Ordered>(slot: &mut Option<T>, value: T::Ref<'_>) {
    match slot {
        Some(current) => T::assign(current, value),
        None => *slot = Some(T::to_owned(value)),
    }
}

/// `Min` and `Max`: the value for which `better(value, kept)` never holds.
macro_rules! extreme {
    ($(#[$doc:meta])* $name:ident, $better:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl<T: Ordered> Aggregator<T> for $name {
            type State = Option<T>;
            type Output = Option<T>;
            fn init(&self) -> Option<T> {
                None
            }
            #[inline(always)]
            fn accumulate(&self, state: &mut Option<T>, value: T::Ref<'_>) {
                let replace = match state {
                    Some(current) => T::$better(value, current.borrow()),
                    None => true,
                };
                if replace {
                    keep(state, value);
                }
            }
            fn merge(&self, state: &mut Option<T>, other: Option<T>) {
                if let Some(other) = other {
                    self.accumulate(state, other.borrow());
                }
            }
            fn finish(&self, state: Option<T>) -> Option<T> {
                state
            }
        }
    };
}

extreme!(
    /// The smallest value (NaN only when every value is NaN).
    Min,
    lower
);
extreme!(
    /// The largest value (NaN only when every value is NaN).
    Max,
    higher
);

/// The largest absolute value.
#[derive(Clone, Copy, Debug, Default)]
pub struct AbsMax;

impl<T: Numeric> Aggregator<T> for AbsMax {
    type State = Option<T>;
    type Output = Option<T>;
    fn init(&self) -> Option<T> {
        None
    }
    #[inline(always)]
    fn accumulate(&self, state: &mut Option<T>, value: T) {
        Max.accumulate(state, value.abs());
    }
    fn merge(&self, state: &mut Option<T>, other: Option<T>) {
        Aggregator::<T>::merge(&Max, state, other);
    }
    fn finish(&self, state: Option<T>) -> Option<T> {
        state
    }
}

/// The arithmetic mean.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mean;

impl<T: Numeric> Aggregator<T> for Mean {
    type State = (f64, u64);
    type Output = Option<f64>;
    fn init(&self) -> (f64, u64) {
        (0.0, 0)
    }
    #[inline(always)]
    fn accumulate(&self, state: &mut (f64, u64), value: T) {
        state.0 += value.to_f64();
        state.1 += 1;
    }
    fn merge(&self, state: &mut (f64, u64), other: (f64, u64)) {
        state.0 += other.0;
        state.1 += other.1;
    }
    fn finish(&self, (sum, n): (f64, u64)) -> Option<f64> {
        (n > 0).then(|| sum / n as f64)
    }
}

/// The standard deviation with `ddof` delta degrees of freedom: 1 (the default) for the sample
/// standard deviation, 0 for the population's. `None` with `ddof` values or fewer.
/// Computed with Welford's updates and Chan's merge, which stay accurate for large means.
#[derive(Clone, Copy, Debug)]
pub struct Std {
    pub ddof: u32,
}

impl Default for Std {
    fn default() -> Self {
        Self { ddof: 1 }
    }
}

impl<T: Numeric> Aggregator<T> for Std {
    /// (count, mean, sum of squared deviations)
    type State = (u64, f64, f64);
    type Output = Option<f64>;
    fn init(&self) -> (u64, f64, f64) {
        (0, 0.0, 0.0)
    }
    #[inline(always)]
    fn accumulate(&self, (n, mean, m2): &mut (u64, f64, f64), value: T) {
        let x = value.to_f64();
        *n += 1;
        let delta = x - *mean;
        *mean += delta / *n as f64;
        *m2 += delta * (x - *mean);
    }
    fn merge(&self, state: &mut (u64, f64, f64), (nb, mean_b, m2_b): (u64, f64, f64)) {
        let (na, mean_a, m2_a) = *state;
        if nb == 0 {
            return;
        }
        if na == 0 {
            *state = (nb, mean_b, m2_b);
            return;
        }
        let n = na + nb;
        let delta = mean_b - mean_a;
        let mean = mean_a + delta * nb as f64 / n as f64;
        let m2 = m2_a + m2_b + delta * delta * na as f64 * nb as f64 / n as f64;
        *state = (n, mean, m2);
    }
    fn finish(&self, (n, _, m2): (u64, f64, f64)) -> Option<f64> {
        (n > u64::from(self.ddof)).then(|| (m2 / (n - u64::from(self.ddof)) as f64).sqrt())
    }
}

/// The `q`-quantile (0 ≤ q ≤ 1), exact, interpolated linearly between the two nearest values
/// (numpy's default). Keeps every value of a group in memory.
#[derive(Clone, Copy, Debug)]
pub struct Quantile {
    pub q: f64,
}

impl<T: Numeric> Aggregator<T> for Quantile {
    type State = Vec<f64>;
    type Output = Option<f64>;
    fn init(&self) -> Vec<f64> {
        Vec::new()
    }
    fn accumulate(&self, state: &mut Vec<f64>, value: T) {
        state.push(value.to_f64());
    }
    fn merge(&self, state: &mut Vec<f64>, mut other: Vec<f64>) {
        state.append(&mut other);
    }
    fn finish(&self, mut values: Vec<f64>) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        if values.iter().any(|v| v.is_nan()) {
            return Some(f64::NAN);
        }
        values.sort_by(f64::total_cmp);
        let position = self.q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
        let (below, above) = (position.floor() as usize, position.ceil() as usize);
        let fraction = position - below as f64;
        let (low, high) = (values[below], values[above]);
        // On a value (or between equal ones) the quantile is that value: `-inf + 0 * (-inf -
        // -inf)` would be NaN.
        if fraction == 0.0 || low == high {
            return Some(low);
        }
        // Between an infinite value and another, the weighted form: between -inf and 1 is
        // -inf (as the limit is), where `low + (high - low) * f` gives -inf + inf = NaN.
        if low.is_infinite() || high.is_infinite() {
            return Some(low * (1.0 - fraction) + high * fraction);
        }
        Some(low + (high - low) * fraction)
    }
}

/// The distinct values, sorted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unique;

impl<T: Ordered + Ord + ListItem> Aggregator<T> for Unique {
    type State = BTreeSet<T>;
    type Output = Vec<T>;
    fn init(&self) -> BTreeSet<T> {
        BTreeSet::new()
    }
    fn accumulate(&self, state: &mut BTreeSet<T>, value: T::Ref<'_>) {
        state.insert(T::to_owned(value));
    }
    fn merge(&self, state: &mut BTreeSet<T>, mut other: BTreeSet<T>) {
        state.append(&mut other);
    }
    fn finish(&self, state: BTreeSet<T>) -> Vec<T> {
        state.into_iter().collect()
    }
}

/// The first value seen. Within a split rows are seen in order; which split's rows come first
/// is not defined, so with several input splits "first" is one of the groups' values.
#[derive(Clone, Copy, Debug, Default)]
pub struct First;

impl<T: Ordered> Aggregator<T> for First {
    type State = Option<T>;
    type Output = Option<T>;
    fn init(&self) -> Option<T> {
        None
    }
    #[inline(always)]
    fn accumulate(&self, state: &mut Option<T>, value: T::Ref<'_>) {
        if state.is_none() {
            *state = Some(T::to_owned(value));
        }
    }
    fn merge(&self, state: &mut Option<T>, other: Option<T>) {
        if state.is_none() {
            *state = other;
        }
    }
    fn finish(&self, state: Option<T>) -> Option<T> {
        state
    }
}

/// The last value seen (the same caveat as [`First`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Last;

impl<T: Ordered> Aggregator<T> for Last {
    type State = Option<T>;
    type Output = Option<T>;
    fn init(&self) -> Option<T> {
        None
    }
    #[inline(always)]
    fn accumulate(&self, state: &mut Option<T>, value: T::Ref<'_>) {
        // Every row replaces the last: reuse the string's buffer rather than allocate.
        keep(state, value);
    }
    fn merge(&self, state: &mut Option<T>, other: Option<T>) {
        if other.is_some() {
            *state = other;
        }
    }
    fn finish(&self, state: Option<T>) -> Option<T> {
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T: Field, A: Aggregator<T>>(agg: &A, parts: &[&[T::Ref<'_>]]) -> A::Output {
        let mut total = agg.init();
        for part in parts {
            let mut state = agg.init();
            for &v in *part {
                agg.accumulate(&mut state, v);
            }
            agg.merge(&mut total, state);
        }
        agg.finish(total)
    }

    #[test]
    fn numeric_aggregates_merge_like_one_pass() {
        let parts: [&[f64]; 3] = [&[1.0, 2.0], &[], &[3.0, 4.0, 10.0]];
        assert_eq!(run::<f64, _>(&Sum, &parts), 20.0);
        assert_eq!(run::<f64, _>(&Mean, &parts), Some(4.0));
        assert_eq!(run::<f64, _>(&Min, &parts), Some(1.0));
        assert_eq!(run::<f64, _>(&Max, &parts), Some(10.0));
        let std = run::<f64, _>(&Std::default(), &parts).unwrap();
        // values 1,2,3,4,10: mean 4, squared deviations 9+4+1+0+36 = 50, / 4
        assert!((std - 12.5f64.sqrt()).abs() < 1e-12);
        let population = run::<f64, _>(&Std { ddof: 0 }, &parts).unwrap();
        assert!((population - 10f64.sqrt()).abs() < 1e-12);
        assert_eq!(run::<f64, _>(&Quantile { q: 0.5 }, &parts), Some(3.0));
        assert_eq!(run::<f64, _>(&Quantile { q: 0.25 }, &parts), Some(2.0));
        assert_eq!(run::<i32, _>(&AbsMax, &[&[-7, 3], &[5]]), Some(7));
    }

    #[test]
    fn a_quantile_on_an_infinite_value_is_that_value() {
        // Found by the differential tests: the median of [-inf] was NaN, and so was a quantile
        // between -inf and a number.
        let inf = f64::INFINITY;
        assert_eq!(run::<f64, _>(&Quantile { q: 0.5 }, &[&[-inf]]), Some(-inf));
        assert_eq!(
            run::<f64, _>(&Quantile { q: 0.5 }, &[&[1.0, inf, 2.0]]),
            Some(2.0)
        );
        assert_eq!(
            run::<f64, _>(&Quantile { q: 0.9 }, &[&[inf, inf]]),
            Some(inf)
        );
        let q = |q: f64, values: &[f64]| run::<f64, _>(&Quantile { q }, &[values]).unwrap();
        assert_eq!(q(0.25, &[-inf, 1.0]), -inf);
        assert_eq!(q(0.75, &[-inf, 1.0, inf]), inf);
        assert!(q(0.5, &[-inf, inf]).is_nan());
    }

    #[test]
    fn empty_input_has_identities_or_none() {
        assert_eq!(run::<f64, _>(&Sum, &[]), 0.0);
        assert_eq!(run::<i64, _>(&Count, &[]), 0);
        assert_eq!(run::<f64, _>(&Mean, &[]), None);
        assert_eq!(run::<f64, _>(&Std::default(), &[&[1.0]]), None);
        assert_eq!(run::<i32, _>(&Max, &[]), None);
    }

    #[test]
    fn nan_is_skipped_by_min_max_and_propagated_by_sums() {
        let parts: [&[f64]; 2] = [&[f64::NAN, 2.0], &[1.0, f64::NAN]];
        assert_eq!(run::<f64, _>(&Min, &parts), Some(1.0));
        assert_eq!(run::<f64, _>(&Max, &parts), Some(2.0));
        assert!(run::<f64, _>(&Sum, &parts).is_nan());
        assert!(run::<f64, _>(&Max, &[&[f64::NAN]]).unwrap().is_nan());
    }

    #[test]
    fn strings_unique_first_last() {
        let parts: [&[&str]; 2] = [&["b", "a"], &["c", "a"]];
        assert_eq!(
            run::<String, _>(&Unique, &parts),
            vec!["a".to_owned(), "b".into(), "c".into()]
        );
        assert_eq!(run::<String, _>(&Min, &parts), Some("a".to_owned()));
        assert_eq!(run::<String, _>(&First, &parts), Some("b".to_owned()));
        assert_eq!(run::<String, _>(&Last, &parts), Some("a".to_owned()));
    }

    #[test]
    #[should_panic(expected = "sum overflows i64")]
    fn integer_overflow_is_loud() {
        run::<i64, _>(&Sum, &[&[i64::MAX, 1]]);
    }

    #[test]
    fn an_integer_sum_that_fits_never_fails_on_the_way() {
        // Found by the differential tests: a checked i64 sum failed or not by the order of rows.
        for parts in [
            [&[i64::MAX, 1][..], &[-1][..]],
            [&[i64::MAX][..], &[-1, 1][..]],
            [&[i64::MIN, -1][..], &[i64::MAX, 2][..]],
        ] {
            let exact: i128 = parts
                .iter()
                .flat_map(|p| p.iter())
                .map(|&v| v as i128)
                .sum();
            assert_eq!(run::<i64, _>(&Sum, &parts) as i128, exact);
        }
        assert_eq!(run::<u64, _>(&Sum, &[&[u64::MAX, 0]]), u64::MAX);
    }
}
