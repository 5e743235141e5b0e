"""W1 in DuckDB and Polars on the files `bench_groupby` generated (informative; CI does not run
it). Usage: BENCH_DIR=/tmp/w1 cargo run --release --example bench_groupby, then
`python3 benches/peers_w1.py /tmp/w1` (pip install duckdb polars)."""

import statistics
import sys
import time

import duckdb
import polars as pl

directory = sys.argv[1]
files = f"{directory}/input/*/*.parquet"


def median_time(run, runs=5):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def duck():
    duckdb.sql(
        f"""COPY (SELECT category, sum(price * qty) AS revenue, avg(price) AS mean_price,
                  count(*) AS n, max(qty) AS max_qty
            FROM read_parquet('{files}') WHERE price > 10 AND qty >= 2
            GROUP BY category ORDER BY category)
            TO '{directory}/duckdb_w1.parquet' (FORMAT parquet)"""
    )


def polars():
    (
        pl.scan_parquet(files)
        .filter((pl.col("price") > 10) & (pl.col("qty") >= 2))
        .with_columns(revenue=pl.col("price") * pl.col("qty"))
        .group_by("category")
        .agg(
            pl.col("revenue").sum(),
            pl.col("price").mean().alias("mean_price"),
            pl.len().alias("n"),
            pl.col("qty").max().alias("max_qty"),
        )
        .sort("category")
        .sink_parquet(f"{directory}/polars_w1.parquet")
    )


print(f"DuckDB {duckdb.__version__}: {median_time(duck):.3f} s")
print(f"Polars {pl.__version__}: {median_time(polars):.3f} s")
