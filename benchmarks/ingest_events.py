"""Mixpanel export load, pipeline versus DuckDB's own read of the same files, in the same run.

    .venv/bin/python benchmarks/ingest_events.py --world /path/to/sandbox/world
    .venv/bin/python benchmarks/ingest_events.py --generate medium --out /tmp/bench   # generate first

Run by hand, not in CI. Two child processes, one after the other, each reporting its own peak memory:
1. direct: DuckDB `read_json` of the world's event files (`mixpanel/events/*.ndjson.gz`) into a table of a
   fresh DuckDB file, closed (so written to disk, as a load is): the floor for parsing and storing these bytes
   on this machine;
2. pipeline: the Mixpanel dlt source through the sandbox's export endpoint (HTTP, gzip), typed rows written
   as parquet by DuckDB and imported by dlt into a fresh warehouse: what `cdp ingest mixpanel` does.
Prints rows/s of both, their ratio (goal: pipeline at most 3x the direct read's time) and peak memory
(goal: under 6 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DIRECT = textwrap.dedent(
    """
    import json, resource, sys, time
    import duckdb
    files, database = sys.argv[1], sys.argv[2]
    con = duckdb.connect(database)
    started = time.perf_counter()
    con.execute(
        "create table events as select * from read_json(?, format = 'newline_delimited', "
        "columns = {'event': 'VARCHAR', 'properties': 'JSON'})",
        [files],
    )
    rows = con.execute("select count(*) from events").fetchone()[0]
    con.close()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_bytes": peak}))
    """
)

PIPELINE = textwrap.dedent(
    """
    import json, resource, time
    import duckdb
    from cdp.paths import warehouse_path
    from ingestion.pipeline import run_source
    started = time.perf_counter()
    report = run_source("mixpanel")
    seconds = time.perf_counter() - started
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        rows = con.execute("select count(*) from mixpanel.events").fetchone()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_bytes": peak, "requests": report.requests}))
    """
)


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, help="a world folder (…/sandbox/world)")
    parser.add_argument("--generate", choices=["tiny", "small", "medium", "large"], help="generate a world first")
    parser.add_argument("--out", type=Path, help="where --generate writes (OUT/world)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))

    if args.generate:
        if not args.out:
            parser.error("--generate needs --out")
        from sandbox.world.generate import generate_world

        generate_world(args.out / "world", args.generate, args.seed)
        args.world = args.out / "world"
    if not args.world or not (args.world / "world.json").exists():
        parser.error("give --world (a folder with world.json) or --generate")

    from sandbox.credentials import dlt_environment
    from sandbox.emulators.common import Limits
    from sandbox.server import sandbox_in_thread

    world = json.loads((args.world / "world.json").read_text())
    files = str(args.world / "mixpanel" / "events" / "*.ndjson.gz")
    size = sum(p.stat().st_size for p in (args.world / "mixpanel" / "events").glob("*.ndjson.gz"))
    print(f"world: {world['size']} (seed {world['seed']}), event files {size / 1e6:.0f} MB gzip")

    with tempfile.TemporaryDirectory(prefix="bench-events-") as scratch:
        env = {**os.environ, "CDP_HOME": str(Path(scratch) / "home"), "CDP_AS_OF": world["as_of"]}
        direct = run_child(DIRECT, [files, str(Path(scratch) / "direct.duckdb")], env)
        # The sandbox's own throttling is off: the benchmark measures the load, not Mixpanel's rate limits.
        with sandbox_in_thread(args.world, Limits(enabled=False)) as base:
            env.update(dlt_environment(world, base))
            env["SOURCES__REQUESTS_PER_SECOND"] = "0"
            started = time.perf_counter()
            pipeline = run_child(PIPELINE, [], env)
            wall = time.perf_counter() - started

    direct_rate = direct["rows"] / direct["seconds"]
    pipeline_rate = pipeline["rows"] / pipeline["seconds"]
    ratio = pipeline["seconds"] / direct["seconds"]
    gib = 1024**3
    print(f"direct   read_json: {direct['rows']:>12,} rows in {direct['seconds']:7.1f} s = {direct_rate:>10,.0f} rows/s, "
          f"peak {direct['peak_bytes'] / gib:.2f} GiB")
    print(f"pipeline dlt      : {pipeline['rows']:>12,} rows in {pipeline['seconds']:7.1f} s = {pipeline_rate:>10,.0f} rows/s, "
          f"peak {pipeline['peak_bytes'] / gib:.2f} GiB (child wall {wall:.1f} s, requests {pipeline['requests']})")
    print(f"ratio pipeline/direct time: {ratio:.2f}x (goal <= 3x); pipeline peak memory goal < 6 GiB: "
          f"{'met' if pipeline['peak_bytes'] < 6 * gib else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
