"""Sync throughput against the sandbox's rate limit, and the cost of an unchanged re-sync.

By hand (not in CI): a Meta custom audience of 1,000,000 consenting members, synced by the engine
(plan, deliver, record) to the sandbox running in its own process.

    .venv/bin/python benchmarks/sync.py [--members 1000000]

What it prints, side by side:
- full sync: delivery time, requests, rows/s, and rows/s as a share of what the sandbox's configured limit
  allows (audience writes per second x 10,000 rows a request) — goal >= 80%; the plan and record steps are
  timed apart, as they run in the warehouse, not against the vendor;
- unchanged re-sync: requests sent (goal 0) and the plan step's time (goal <= 30 s).
The warehouse is synthetic (marts.customer_profiles and one segment table with the members), built under a
temporary CDP_HOME, so no world has to be generated or ingested first.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

MEMBERS = 1_000_000


def build_warehouse(path: Path, members: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema segments")
        con.execute(f"""create table marts.customer_profiles as
            select 'cus_' || lpad(i::varchar, 8, '0') as customer_id,
                   'member' || i || '@example.com' as primary_email,
                   '+1555' || lpad((i % 10000000)::varchar, 7, '0') as primary_phone,
                   'First' || (i % 977) as first_name, 'Last' || (i % 1999) as last_name,
                   'subscribed' as email_consent, 'unknown' as sms_consent, null::varchar as crm_owner_id
            from range({members}) t(i)""")
        con.execute("create table marts.customer_source_records (source varchar, record_type varchar,"
                    " record_id varchar, customer_id varchar)")
        con.execute("create table segments.audience as select customer_id from marts.customer_profiles")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=MEMBERS)
    members = parser.parse_args().members

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["CDP_HOME"] = str(home)
        from reverse_etl.engine import run_sync
        from reverse_etl.plan import SyncSpec
        from sandbox.credentials import dlt_environment
        from sandbox.server import sandbox_process
        from tests.helpers.worlds import make_world

        world = make_world(home / "sandbox" / "world")
        warehouse = home / "warehouse.duckdb"
        started = time.perf_counter()
        build_warehouse(warehouse, members)
        print(f"warehouse: {members:,} consenting members built in {time.perf_counter() - started:.1f} s")
        spec = SyncSpec(name="meta_custom_audience__benchmark", model="audience", relation="segments.audience",
                        destination="meta_custom_audience", key="customer_id", mode="mirror",
                        target="Benchmark audience")
        with sandbox_process(world) as base_url:
            import json

            os.environ.update(dlt_environment(json.loads((world / "world.json").read_text()), base_url))
            summary = httpx.get(f"{base_url}/_sandbox/destinations/meta", params={"summary": 1}).json()
            limit = float(summary["audience_writes_per_second"])
            # The client's budget is set to the sandbox's configured limit: the benchmark measures how much of
            # it the engine uses, so no headroom is taken off.
            os.environ["DESTINATIONS__META__REQUESTS_PER_SECOND"] = str(limit)
            os.environ["DESTINATIONS__META__REQUESTS_BURST"] = "1"

            started = time.perf_counter()
            planned, delivered, recorded = run_sync(spec, "full-sync", str(warehouse), progress=_every_tenth())
            total = time.perf_counter() - started
            rows = sum(delivered.succeeded.values())
            allowed = limit * 10_000
            print(f"\nfull sync of {members:,} members (status {recorded.status}, {recorded.failed} failed)")
            print(f"  delivery: {delivered.seconds:.1f} s, {delivered.requests} requests, {delivered.retries} retries,"
                  f" {rows / delivered.seconds:,.0f} rows/s")
            print(f"  sandbox limit: {limit:g} audience writes/s x 10,000 rows = {allowed:,.0f} rows/s")
            print(f"  throughput share of the limit: {rows / delivered.seconds / allowed:.0%} (goal >= 80%)")
            print(f"  whole run incl. plan and record: {total:.1f} s")
            size = httpx.get(f"{base_url}/_sandbox/destinations/meta", params={"summary": 1}).json()["audiences"]
            print(f"  audience size in the sandbox: {size[0]['size']:,}")

            before = _requests(base_url)
            started = time.perf_counter()
            planned, delivered, recorded = run_sync(spec, "unchanged", str(warehouse))
            total = time.perf_counter() - started
            print("\nunchanged re-sync")
            print(f"  requests to the sandbox: {_requests(base_url) - before} (goal 0)")
            print(f"  plan + record: {total:.1f} s (goal: plan <= 30 s); planned {planned.planned} rows")
    return 0


def _requests(base_url: str) -> int:
    log = httpx.get(f"{base_url}/_sandbox/requests").json()["requests"]
    return sum(entry["count"] for entry in log if entry["vendor"] == "meta")


def _every_tenth():
    state = {"n": 0}

    def progress(message: str) -> None:
        state["n"] += 1
        if state["n"] % 10 == 0:
            print(f"  {message}", flush=True)

    return progress


if __name__ == "__main__":
    raise SystemExit(main())
