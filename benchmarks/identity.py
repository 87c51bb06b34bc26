"""Identity resolution end to end beside scipy's connected_components on the same post-rule edge list.

By hand, on a built warehouse. The issue asks for the large world, but ingesting it through the emulators'
paced APIs takes many hours here; `--replicate 10` on the medium warehouse gives a graph of the large world's
size instead (4.2M records: ten copies of every record, identifier and previous assignment, ids suffixed so
the copies never touch; the components are the medium world's, ten times over):

    export CDP_HOME=/tmp/bench && cdp sandbox generate --size medium && cdp materialize
    .venv/bin/python benchmarks/identity.py                 # works on a copy; the warehouse is left untouched
    .venv/bin/python benchmarks/identity.py --replicate 10  # the large world's size

Timings (each says what it includes):
- resolution end to end: read records and edges from the warehouse (string keys hashed in DuckDB, values
  numbered in numpy), read the limits, connected components (scipy, given only the values carried by several
  records: a value on one record joins nothing), greedy re-resolution of the components breaking
  a rule, stable ids against the previous assignments (in DuckDB), and writing assignments, anchors, refused
  values and merge events, committed. The copy holds the previous run's assignments, so this is a rerun, as
  in production (most components settle on their previous id; the survivor rule runs on the rest);
- scipy baseline: `connected_components` alone on the post-rule edge list (edges of refused values dropped),
  already in memory as integer arrays, every value given (the resolution gives scipy fewer nodes, the same
  components).
The component counts must be equal; the goal is end to end <= 10x the baseline.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cdp.identity.resolve import kept_edges, resolve
from cdp.identity.step import load_graph, load_limits, run_resolution, values_by_name
from cdp.paths import warehouse_path

# What --replicate copies, and the columns made distinct per copy.
REPLICATED = {
    "int_identity__records": ["record_id"],
    "int_identity__edges": ["record_id", "match_key"],
    "record_assignments": ["record_id", "customer_id"],
    "customer_anchors": ["customer_id", "anchor_record_id"],
}


def replicate(con: duckdb.DuckDBPyConnection, times: int) -> None:
    """Every table the step reads, `times` over; copy 0 keeps its ids, copy k suffixes them with #k."""
    for table, columns in REPLICATED.items():
        suffixed = ", ".join(f"if(copy = 0, {c}, {c} || '#' || copy) as {c}" for c in columns)
        con.execute(f"""create or replace table identity.{table} as
            select * exclude (copy) replace ({suffixed}) from identity.{table}, range({times}) as copies(copy)""")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicate", type=int, default=1, help="copies of the graph (10: the large world's size)")
    args = parser.parse_args()
    source = warehouse_path()
    if not source.exists():
        print(f"No warehouse at {source}: build one first (see the module docstring).")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "bench.duckdb"
        shutil.copyfile(source, copy)
        con = duckdb.connect(str(copy))
        if args.replicate > 1:
            replicate(con, args.replicate)
            con.execute("checkpoint")
        # Imports are not resolution time: pyarrow's first to_numpy imports pandas (1-2 s without bytecode).
        con.execute("select 1 as warm_up").to_arrow_table()["warm_up"].to_numpy()

        started = time.perf_counter()
        summary = run_resolution(con, "benchmark", datetime.now(UTC))
        end_to_end = time.perf_counter() - started

        graph = load_graph(con)
        resolution = resolve(graph, load_limits(con), values_by_name(con))
        mask = kept_edges(graph, resolution)
        rows, cols = graph.edge_record[mask], graph.edge_value[mask] + graph.n_records
        n = graph.n_records + graph.n_values
        started = time.perf_counter()
        matrix = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
        _, labels = connected_components(matrix, directed=False)
        baseline = time.perf_counter() - started
        con.close()

    record_components = len(np.unique(labels[: graph.n_records]))
    print(f"records {summary.records:,}, identifier values {summary.values:,}, kept edges {int(mask.sum()):,}, "
          f"refused values {summary.refused_values:,}, re-resolved components {summary.greedy_components:,}")
    print(f"resolution end to end (read, rules, resolve, ids, write): {end_to_end:8.2f} s -> "
          f"{summary.customers:,} profiles")
    print(f"scipy connected_components on the post-rule edges (in memory): {baseline:8.2f} s -> "
          f"{record_components:,} components")
    print(f"peak memory of this process (DuckDB included): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    print(f"same component count: {record_components == summary.customers}; "
          f"ratio {end_to_end / baseline:.1f}x (goal <= 10x)")
    return 0 if record_components == summary.customers else 2


if __name__ == "__main__":
    sys.exit(main())
