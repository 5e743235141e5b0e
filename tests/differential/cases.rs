//! The library of pipelines, each beside the SQL that DuckDB runs for it over the same files.
//!
//! Where aqueduct deliberately differs from DuckDB the SQL spells aqueduct's documented rule
//! (see the macros in `duckdb_run.py`), and the case says so:
//! - comparisons are IEEE 754 (NaN compares false; DuckDB's NaN is greater than everything);
//! - integer arithmetic wraps around (DuckDB's fails on overflow);
//! - `as` from float to integer truncates and saturates, NaN to 0 (DuckDB's rounds, fails);
//! - `f64::max`/`min` and the `min`/`max`/`absmax` aggregates skip NaN; `quantile` propagates it;
//! - sorts put −0.0 before +0.0 (DuckDB holds them equal);
//! - `std` of values that are not all finite is NaN (DuckDB's is 0 for one value).

use aqueduct::prelude::*;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;

use crate::compare::Order;
use crate::table::T;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Parquet,
    Csv,
}

/// Where a case reads from and how it runs.
pub struct Input {
    pub format: Format,
    pub location: String,
    pub options: aqueduct::ExecOptions,
}

pub struct Case {
    pub name: &'static str,
    pub sql: &'static str,
    pub order: Order,
    pub run: fn(&Input) -> aqueduct::Result<Vec<RecordBatch>>,
}

/// A case whose pipeline is `source |> stages`, the source being each format's reader.
macro_rules! case {
    ($name:ident, $order:expr, $sql:expr, $($stages:tt)*) => {
        Case {
            name: stringify!($name),
            sql: $sql,
            order: $order,
            run: |input: &Input| {
                let location = input.location.clone();
                let options = input.options.clone();
                match input.format {
                    Format::Parquet => pipeline! { read_parquet::<T>(location) $($stages)* }
                        .with_options(options)
                        .to_arrow(),
                    Format::Csv => pipeline! { read_csv::<T>(location) $($stages)* }
                        .with_options(options)
                        .to_arrow(),
                }
            },
        }
    };
}

#[derive(Record, Debug, Clone)]
pub struct YQ {
    pub y: i64,
    pub q: i32,
}

#[derive(Record, Debug, Clone)]
pub struct GroupSummary {
    pub g: i32,
    pub n: i64,
    pub smallest_id: i64,
    pub any_b: bool,
}

fn summary(rows: Vec<T>) -> Vec<GroupSummary> {
    vec![GroupSummary {
        g: rows[0].g,
        n: rows.len() as i64,
        smallest_id: rows.iter().map(|r| r.id).min().unwrap(),
        any_b: rows.iter().any(|r| r.b),
    }]
}

fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Days::new(n)
}

/// `zip` and `union` combine two datasets: each format's pair.
fn zip(input: &Input) -> aqueduct::Result<Vec<RecordBatch>> {
    let location = input.location.clone();
    match input.format {
        Format::Parquet => {
            let other = pipeline! { read_parquet::<YQ>(location.clone()) };
            pipeline! { read_parquet::<T>(location) |> select(id, x) |> zip::<YQ>(other) }
                .with_options(input.options.clone())
                .to_arrow()
        }
        Format::Csv => {
            let other = pipeline! { read_csv::<YQ>(location.clone()) };
            pipeline! { read_csv::<T>(location) |> select(id, x) |> zip::<YQ>(other) }
                .with_options(input.options.clone())
                .to_arrow()
        }
    }
}

fn union(input: &Input) -> aqueduct::Result<Vec<RecordBatch>> {
    let location = input.location.clone();
    let (a, b) = match input.format {
        Format::Parquet => (
            pipeline! { read_parquet::<T>(location.clone()) |> filter(g > 0) },
            pipeline! { read_parquet::<T>(location) |> filter(b) },
        ),
        Format::Csv => (
            pipeline! { read_csv::<T>(location.clone()) |> filter(g > 0) },
            pipeline! { read_csv::<T>(location) |> filter(b) },
        ),
    };
    a.union(&[&b])
        .with_options(input.options.clone())
        .to_arrow()
}

pub fn all() -> Vec<Case> {
    use Order::{Any, By, First, Kept};
    vec![
        // Reading: every type, every awkward value, through both readers.
        case!(scan, Any, "SELECT * FROM tab",),
        // Row-wise stages.
        case!(filter_ints, Any, "SELECT * FROM tab WHERE y >= -100 AND y < 500 AND q <> 0",
            |> filter(y >= -100 && y < 500 && q != 0)),
        // IEEE comparisons: NaN > 1.5 is false (DuckDB: true).
        case!(filter_floats, Any,
            "SELECT id, x FROM tab WHERE (x > 1.5 OR x <= -0.0) AND NOT isnan(x)",
            |> filter(x > 1.5 || x <= -0.0) |> select(id, x)),
        case!(filter_nullable, Any, "SELECT id, k, z FROM tab WHERE k = 0 OR z IS NULL",
            |> filter(k == 0 || z.is_null()) |> select(id, k, z)),
        case!(filter_strings, Any,
            "SELECT id, t FROM tab WHERE starts_with(t, 'a') OR contains(t, ',') OR suffix(t, ' ')",
            |> filter(t.starts_with("a") || t.contains(",") || t.ends_with(" ")) |> select(id, t)),
        case!(filter_bool_date, Any, "SELECT id, b, d FROM tab WHERE b AND d > DATE '1970-01-03'",
            |> filter(b && d > {day(2)}) |> select(id, b, d)),
        case!(filter_string_order, Any, "SELECT id, s FROM tab WHERE coalesce(s, 'zz') < 'b'",
            |> filter(s.unwrap_or("zz") < "b") |> select(id, s)),
        // Wrapping integer arithmetic (DuckDB's fails on overflow).
        case!(arith_wrapping, Any,
            "SELECT id, wrap64(y::HUGEINT * 3 + 1) AS w, wrap64(-(y::HUGEINT)) AS v, y % 7 AS m,
                    wrap32(q::BIGINT * q) AS qq FROM tab",
            |> with_column(w = y * 3 + 1) |> with_column(v = -y) |> with_column(m = y % 7)
            |> with_column(qq = q * q) |> select(id, w, v, m, qq)),
        case!(arith_division, Any,
            "SELECT id, wrap64(y::HUGEINT // wrap32(wrap32(abs(q::BIGINT))::BIGINT + 1)) AS h FROM tab",
            |> with_column(h = y / (q.abs() + 1) as i64) |> select(id, h)),
        case!(arith_floats, Any, "SELECT id, x * 2.0 - 1.0 AS w, x / 3.0 + 0.001 AS r FROM tab",
            |> with_column(w = x * 2.0 - 1.0) |> with_column(r = x / 3.0 + 0.001) |> select(id, w, r)),
        // Rust's `as`: float to integer truncates and saturates (DuckDB rounds and fails).
        case!(casts, Any,
            "SELECT id, f2i64(x) AS c1, wrap32(y) AS c2, q::DOUBLE AS c3, y::DOUBLE AS c4,
                    g::BIGINT AS c5, f2i64(y::DOUBLE) AS c6 FROM tab",
            |> with_column(c1 = x as i64) |> with_column(c2 = y as i32) |> with_column(c3 = q as f64)
            |> with_column(c4 = y as f64) |> with_column(c5 = g as i64)
            |> with_column(c6 = (y as f64) as i64) |> select(id, c1, c2, c3, c4, c5, c6)),
        case!(float_functions, Any,
            "SELECT id, abs(x) AS a, sqrt(x) AS r, floor(x) AS f, ceil(x) AS c, round(x) AS o,
                    ln(x) AS l, exp(x / 1000.0) AS e FROM tab",
            |> with_column(a = x.abs()) |> with_column(r = x.sqrt()) |> with_column(f = x.floor())
            |> with_column(c = x.ceil()) |> with_column(o = x.round()) |> with_column(l = x.ln())
            |> with_column(e = (x / 1000.0).exp()) |> select(id, a, r, f, c, o, l, e)),
        // f64::max/min skip a NaN argument (DuckDB's greatest/least do not).
        case!(min_max_pow, Any,
            "SELECT id, fmax(x, 0.0) AS hi, fmin(x, 1.0) AS lo, pow(x, 2) AS sq,
                    pow(abs(x), 0.5) AS rt, wrap64(abs(y::HUGEINT)) AS ay, wrap32(q::HUGEINT * q * q) AS cube
             FROM tab",
            |> with_column(hi = x.max(0.0)) |> with_column(lo = x.min(1.0))
            |> with_column(sq = x.powi(2)) |> with_column(rt = x.abs().powf(0.5))
            |> with_column(ay = y.abs()) |> with_column(cube = q.pow(3))
            |> select(id, hi, lo, sq, rt, ay, cube)),
        case!(nullable_values, Any,
            "SELECT id, coalesce(z, -1.0) AS zz, coalesce(k, 7) AS kk, s IS NULL AS n,
                    coalesce(k = 0, false) AS zero FROM tab",
            |> with_column(zz = z.unwrap_or(-1.0)) |> with_column(kk = k.unwrap_or(7))
            |> with_column(n = s.is_null()) |> with_column(zero = k == 0) |> select(id, zz, kk, n, zero)),
        case!(if_else, Any,
            "SELECT id, CASE WHEN b THEN y ELSE q::BIGINT END AS w,
                    CASE WHEN x > 0.0 AND NOT isnan(x) THEN x ELSE -1.0 END AS v FROM tab",
            |> with_column(w = if b { y } else { q as i64 })
            |> with_column(v = if x > 0.0 { x } else { -1.0 }) |> select(id, w, v)),
        case!(string_lengths, Any,
            "SELECT id, strlen(t)::UBIGINT AS n, strlen(coalesce(s, '')) AS m FROM tab",
            |> with_column(n = t.len()) |> with_column(m = s.unwrap_or("").len()) |> select(id, n, m)),
        case!(reshape, Any, "SELECT id, x AS value, t FROM tab",
            |> select(id, x, s, t) |> rename(x = value) |> drop(s)),
        case!(booleans, Any,
            "SELECT id, (b AND g > 0) OR (NOT b AND g < 0) AS c, NOT b AS nb FROM tab",
            |> with_column(c = b && g > 0 || !b && g < 0) |> with_column(nb = !b) |> select(id, c, nb)),
        case!(fused_chain, Any,
            "SELECT id, wrap64(y::HUGEINT + 1) AS y1, x * 2.0 AS x2 FROM tab
             WHERE g <> 0 AND q > -50 AND (k IS NULL OR k <> 1)",
            |> filter(g != 0) |> with_column(y1 = y + 1) |> filter(q > -50)
            |> with_column(x2 = x * 2.0) |> filter(k.is_null() || k != 1) |> select(id, y1, x2)),
        // A limit after a filter: the first rows in the files' order where order is preserved.
        case!(limit_after_filter, First(10), "SELECT id, g FROM tab WHERE g > 0 ORDER BY id",
            |> filter(g > 0) |> select(id, g) |> limit(10)),
        // Sorts: −0.0 before +0.0 (DuckDB holds them equal; `negzero` spells the rule).
        case!(sort_floats, By(2), "SELECT x, id FROM tab ORDER BY x, negzero(x) DESC, id",
            |> select(x, id) |> sort(x, id)),
        case!(sort_nullable_desc, By(2),
            "SELECT z, id FROM tab ORDER BY z DESC NULLS LAST, negzero(z), id",
            |> select(z, id) |> sort(desc(z), id)),
        case!(sort_strings_nulls_first, By(2),
            "SELECT s, id, t FROM tab ORDER BY s NULLS FIRST, id DESC",
            |> select(s, id, t) |> sort(s, desc(id), nulls_first = true)),
        case!(sort_several_keys, By(3), "SELECT g, y, id, x FROM tab ORDER BY g, y DESC, id",
            |> select(g, y, id, x) |> sort(g, desc(y), id)),
        // inf - inf is a NaN with its sign bit set on x86: still the greatest value.
        case!(sort_computed_nan, By(2),
            "SELECT x - x AS w, id FROM tab ORDER BY w, negzero(w) DESC, id",
            |> with_column(w = x - x) |> select(w, id) |> sort(w, id)),
        case!(sort_dates_bools, By(3), "SELECT d, b, id FROM tab ORDER BY d DESC, b, id",
            |> select(d, b, id) |> sort(desc(d), b, id)),
        case!(sort_then_limit, By(2),
            "SELECT x, id FROM tab ORDER BY x DESC, negzero(x), id LIMIT 25",
            |> select(x, id) |> sort(desc(x), id) |> limit(25)),
        case!(sort_then_filter, By(2), "SELECT y, id FROM tab WHERE b ORDER BY y, id",
            |> sort(y, id) |> filter(b) |> select(y, id)),
        // unique: the distinct values, sorted, null first.
        case!(unique_nullable_int, By(1), "SELECT DISTINCT k FROM tab ORDER BY k NULLS FIRST",
            |> unique(k)),
        case!(unique_nullable_string, By(1), "SELECT DISTINCT s FROM tab ORDER BY s NULLS FIRST",
            |> unique(s)),
        case!(unique_date, By(1), "SELECT DISTINCT d FROM tab ORDER BY d", |> unique(d)),
        // Group-by: groups sorted by key, the null key first.
        case!(groupby_nullable_key_counts, By(1),
            "SELECT k, count(*) AS n, count(z) AS nz, sum(q)::BIGINT AS sq FROM tab
             GROUP BY k ORDER BY k NULLS FIRST",
            |> groupby(k) |> aggregate(n = count(), nz = count(z), sq = sum(q))),
        // min/max/absmax skip NaN unless all are NaN (DuckDB's NaN is the greatest).
        case!(groupby_float_aggregates, By(1),
            "SELECT g, sum(x) AS sx, avg(x) AS mx, nan_min(x) AS lo, nan_max(x) AS hi,
                    nan_max(abs(x)) AS am FROM tab GROUP BY g ORDER BY g",
            |> groupby(g) |> aggregate(sx = sum(x), mx = mean(x), lo = min(x), hi = max(x), am = absmax(x))),
        case!(groupby_string_key_std, By(1),
            "SELECT s, ieee_std_samp(x) AS sd, ieee_std_pop(x) AS sp, count(*) AS n FROM tab
             GROUP BY s ORDER BY s NULLS FIRST",
            |> groupby(s) |> aggregate(sd = std(x), sp = std(x, ddof = 0), n = count())),
        // quantile propagates NaN (DuckDB's sorts NaN last and interpolates).
        case!(groupby_bool_quantiles, By(1),
            "SELECT b, nan_quantile(x, 0.5) AS med, nan_quantile(x, 0.9) AS p9,
                    nan_quantile(z, 0.25) AS zq FROM tab GROUP BY b ORDER BY b",
            |> groupby(b) |> aggregate(med = quantile(x, 0.5), p9 = quantile(x, 0.9), zq = quantile(z, 0.25))),
        case!(groupby_date_strings, By(1),
            "SELECT d, min(s) AS lo, max(t) AS hi, count(s) AS n FROM tab GROUP BY d ORDER BY d",
            |> groupby(d) |> aggregate(lo = min(s), hi = max(t), n = count(s))),
        case!(groupby_two_keys, By(2),
            "SELECT g, b, count(*) AS n, sum(q)::BIGINT AS sq, max(y) AS top, min(y) AS bottom
             FROM tab GROUP BY g, b ORDER BY g, b",
            |> groupby(g, b) |> aggregate(n = count(), sq = sum(q), top = max(y), bottom = min(y))),
        case!(groupby_unique_lists, By(1),
            "SELECT g, list_sort(list_distinct(list(k))) AS ks, list_sort(list_distinct(list(t))) AS ts
             FROM tab GROUP BY g ORDER BY g",
            |> groupby(g) |> aggregate(ks = unique(k), ts = unique(t))),
        // first/last: in the files' order (`id` numbers rows in that order).
        case!(groupby_first_last, By(1),
            "SELECT g, arg_min(x, id) AS f, arg_max(y, id) AS l, arg_min(s, id) AS fs FROM tab
             GROUP BY g ORDER BY g",
            |> groupby(g) |> aggregate(f = first(x), l = last(y), fs = first(s))),
        // An integer sum that does not fit i64 is an error on both sides; one that fits is exact
        // whatever the order of rows (its partial sums may not fit).
        case!(groupby_sum_extremes, By(1),
            "SELECT g, sum(y)::BIGINT AS sy FROM tab GROUP BY g ORDER BY g",
            |> groupby(g) |> aggregate(sy = sum(y))),
        case!(aggregate_everything, Any,
            "SELECT count(*) AS n, coalesce(sum(x), 0.0) AS sx, avg(z) AS mz, min(k) AS lo,
                    max(s) AS hi, coalesce(sum(q), 0)::BIGINT AS sq FROM tab",
            |> aggregate(n = count(), sx = sum(x), mz = mean(z), lo = min(k), hi = max(s), sq = sum(q))),
        case!(filter_then_groupby, By(1),
            "SELECT k, sum(x * q) AS total, count(*) AS n FROM tab WHERE q > 0
             GROUP BY k ORDER BY k NULLS FIRST",
            |> filter(q > 0) |> with_column(r = x * q as f64) |> groupby(k)
            |> aggregate(total = sum(r), n = count())),
        case!(groupby_computed_key, By(1),
            "SELECT y % 10 AS bucket, count(*) AS n, sum(g)::BIGINT AS sg FROM tab
             GROUP BY bucket ORDER BY bucket",
            |> with_column(bucket = y % 10) |> groupby(bucket) |> aggregate(n = count(), sg = sum(g))),
        case!(groupby_nothing_left, Any,
            "SELECT k, count(*) AS n FROM tab WHERE g > 100 GROUP BY k",
            |> filter(g > 100) |> groupby(k) |> aggregate(n = count())),
        case!(groupby_then_sort, By(2),
            "SELECT n, k FROM (SELECT k, count(*) AS n FROM tab GROUP BY k)
             ORDER BY n DESC, k NULLS LAST",
            |> groupby(k) |> aggregate(n = count()) |> select(n, k) |> sort(desc(n), k)),
        case!(map_groups, By(1),
            "SELECT g, count(*) AS n, min(id) AS smallest_id, bool_or(b) AS any_b FROM tab
             GROUP BY g ORDER BY g",
            |> groupby(g) |> map_groups(|rows: Vec<T>| -> Vec<GroupSummary> { summary(rows) })),
        // Operators that only move rows: the same rows.
        case!(random_shuffle, Any, "SELECT id, s FROM tab",
            |> random_shuffle(seed = 3) |> select(id, s)),
        case!(randomize_block_order, Any, "SELECT id, x, t FROM tab",
            |> randomize_block_order(seed = 5) |> select(id, x, t)),
        case!(repartition, Kept(1), "SELECT id, y FROM tab ORDER BY id",
            |> repartition(3) |> select(id, y)),
        case!(shuffle_then_groupby, By(1),
            "SELECT g, count(*) AS n, sum(q)::BIGINT AS sq FROM tab GROUP BY g ORDER BY g",
            |> random_shuffle(seed = 11) |> groupby(g) |> aggregate(n = count(), sq = sum(q))),
        Case {
            name: "zip",
            sql: "SELECT id, x, y, q FROM tab",
            order: Any,
            run: zip,
        },
        Case {
            name: "union",
            sql: "SELECT * FROM tab WHERE g > 0 UNION ALL SELECT * FROM tab WHERE b",
            order: Any,
            run: union,
        },
    ]
}
