"""Runs the differential tests' SQL on DuckDB: for each format, a view `tab` over the seed's
files, then every query's result written as parquet (or its error as text beside it).

The view encodes how aqueduct documents reading each format, so that a query compares
operators, not readers' conventions: a CSV's empty field is "" in the never-null `t` column.
The macros spell aqueduct's documented arithmetic in SQL (integers wrap around, `as` casts
from floats saturate, NaN is skipped by min/max)."""

import json
import sys

import duckdb

MACROS = [
    # Two's-complement wrap-around of an exact (HUGEINT) result into i64 / i32.
    "CREATE MACRO wrap64(v) AS CAST(((((v)::HUGEINT + 9223372036854775808) % 18446744073709551616)"
    " + 18446744073709551616) % 18446744073709551616 - 9223372036854775808 AS BIGINT)",
    "CREATE MACRO wrap32(v) AS CAST(((((v)::HUGEINT + 2147483648) % 4294967296)"
    " + 4294967296) % 4294967296 - 2147483648 AS INTEGER)",
    # Rust's `as i64` of a float: truncated, saturating, NaN is 0.
    "CREATE MACRO f2i64(v) AS CASE WHEN isnan(v) THEN 0 WHEN v >= 9223372036854775807.0"
    " THEN 9223372036854775807 WHEN v <= -9223372036854775808.0 THEN -9223372036854775808"
    " ELSE CAST(trunc(v) AS BIGINT) END",
    # Whether v is −0.0: sorts put it before +0.0.
    "CREATE MACRO negzero(v) AS coalesce(v = 0 AND signbit(v), false)",
    # f64::max / f64::min: a NaN argument gives the other one.
    "CREATE MACRO fmax(a, b) AS CASE WHEN isnan(a) THEN b WHEN isnan(b) THEN a ELSE greatest(a, b) END",
    "CREATE MACRO fmin(a, b) AS CASE WHEN isnan(a) THEN b WHEN isnan(b) THEN a ELSE least(a, b) END",
    # min / max / absmax skip NaN unless every value is NaN (DuckDB's NaN is the greatest).
    "CREATE MACRO nan_min(v) AS coalesce(min(v) FILTER (WHERE NOT isnan(v)), min(v))",
    "CREATE MACRO nan_max(v) AS coalesce(max(v) FILTER (WHERE NOT isnan(v)), max(v))",
    # std is NaN where a value is not finite (DuckDB's special-cases one value as 0).
    "CREATE MACRO ieee_std_pop(v) AS CASE WHEN bool_or(NOT isfinite(v)) THEN 'nan'::DOUBLE"
    " ELSE stddev_pop(v) END",
    "CREATE MACRO ieee_std_samp(v) AS CASE WHEN count(v) < 2 THEN NULL"
    " WHEN bool_or(NOT isfinite(v)) THEN 'nan'::DOUBLE ELSE stddev_samp(v) END",
    # quantile propagates NaN (DuckDB's sorts it last and interpolates around it).
    "CREATE MACRO nan_quantile(v, q) AS CASE WHEN bool_or(isnan(v)) THEN 'nan'::DOUBLE"
    " ELSE quantile_cont(v, q) END",
]


def view(fmt, location, columns):
    if fmt == "parquet":
        return f"CREATE VIEW tab AS SELECT * FROM read_parquet('{location}/*.parquet')"
    types = ", ".join(f"'{name}': '{sql}'" for name, sql in columns)
    source = (
        f"read_csv('{location}/*.csv', header = true, auto_detect = false, delim = ',',"
        f" quote = '\"', escape = '\"', columns = {{{types}}})"
    )
    names = [name if name != "t" else "coalesce(t, '') AS t" for name, _ in columns]
    return f"CREATE VIEW tab AS SELECT {', '.join(names)} FROM {source}"


def main():
    job = json.load(open(sys.argv[1]))
    for run in job["runs"]:
        con = duckdb.connect()
        con.execute("SET threads TO 2")
        for macro in MACROS:
            con.execute(macro)
        con.execute(view(run["format"], run["location"], job["columns"]))
        for query in run["queries"]:
            try:
                con.execute(f"COPY ({query['sql']}) TO '{query['out']}' (FORMAT parquet)")
            except duckdb.Error as error:
                with open(query["out"] + ".error", "w") as out:
                    out.write(str(error))
        con.close()


main()
