"""W5 and W6 in DuckDB and Polars on the sales table `bench_groupby` generated (informative; CI
does not run it), each side in a process of its own, beside `bench_all_to_all`'s aqueduct side.
Usage: BENCH_DIR=/tmp/w cargo run --release --example bench_groupby (it writes /tmp/w/input),
then `python3 benches/peers_w5_w6.py /tmp/w [runs] [w5,w6]` (pip install duckdb polars).

W5: sort(desc(price), id) -> parquet. W6: groupby(user_id): count, sum(price), max(qty) ->
parquet, sorted by user_id as aqueduct's output is. Prints the median wall time, the CPU time
and the peak RSS of each side's process."""

import subprocess
import sys
import time

SIDE = r"""
import sys, time
side, workload, files, out, runs = sys.argv[1:6]
runs = int(runs)
if side == "duckdb":
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads = 2")
    query = {
        "w5": f"SELECT * FROM read_parquet('{files}') ORDER BY price DESC, id",
        "w6": f"SELECT user_id, count(*) AS n, sum(price) AS spent, max(qty) AS max_qty "
              f"FROM read_parquet('{files}') GROUP BY user_id ORDER BY user_id",
    }[workload]
    run = lambda: con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")
else:
    import polars as pl
    scan = pl.scan_parquet(files)
    if workload == "w5":
        plan = scan.sort(["price", "id"], descending=[True, False])
    else:
        plan = (
            scan.group_by("user_id")
            .agg(pl.len().alias("n"), pl.col("price").sum().alias("spent"),
                 pl.col("qty").max().alias("max_qty"))
            .sort("user_id")
        )
    run = lambda: plan.sink_parquet(out)
times = []
for _ in range(runs):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
times.sort()
import resource
usage = resource.getrusage(resource.RUSAGE_SELF)
print(times[len(times) // 2], (usage.ru_utime + usage.ru_stime) / runs, usage.ru_maxrss / 1024)
"""


def side(name, workload, directory, runs):
    output = subprocess.run(
        [sys.executable, "-c", SIDE, name, workload, f"{directory}/input/*/*.parquet",
         f"{directory}/{name}_{workload}.parquet", str(runs)],
        check=True, capture_output=True, text=True,
        env={"POLARS_MAX_THREADS": "2", "PATH": "/usr/bin:/bin"},
    ).stdout
    wall, cpu, rss = output.split()[-3:]
    return float(wall), float(cpu), float(rss)


directory = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
workloads = sys.argv[3].split(",") if len(sys.argv) > 3 else ["w5", "w6"]
for workload in workloads:
    for name in ["duckdb", "polars"]:
        wall, cpu, rss = side(name, workload, directory, runs)
        print(f"{workload} {name}: median {wall:.3f} s, {cpu:.2f} CPU-s per run, "
              f"peak RSS {rss:.0f} MiB")
