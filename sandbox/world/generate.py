"""Generate a whole world: `generate_world(world_dir, size, seed)` or
`python -m sandbox.world.generate --size large --seed 7 --out DIR [--workers 2]`.

People are simulated in chunks of config.CHUNK_PEOPLE, each one independent of the others: its own random
generator, seeded from (seed, purpose, chunk), and its own id ranges (ID_SPAN ids of each kind from
chunk index * ID_SPAN). Chunks therefore run in a pool of worker processes in any order, and the parent
appends their outputs in chunk order, so the same seed gives byte-identical record contents whether one or
several workers ran. Memory stays bounded: a worker holds one chunk, the parent a few chunk outputs, and the
truth is built by DuckDB over the files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sandbox.world import catalog
from sandbox.world.config import (
    CHUNK_PEOPLE,
    CONVENTIONS,
    DEFAULT_AS_OF,
    DEFAULT_CONVENTIONS,
    HISTORY_DAYS,
    conventions_for,
    people_for,
)
from sandbox.world.emit import EVENT_SCHEMA, Emitter
from sandbox.world.people import DAY, draw_chunk, pair_family_and_devices
from sandbox.world.render import render_person
from sandbox.world.shapes import DEFAULT_SHAPE, check_shape, history_days
from sandbox.world.simulate import Context, simulate_person
from sandbox.world.store import write_resource, write_world_json
from sandbox.world.truth import build_truth

# Entity and event resources written chunk by chunk; the rest are small fixtures written whole.
PEOPLE_RESOURCES = [("hubspot", "contacts"), ("hubspot", "companies"), ("hubspot", "deals"), ("hubspot", "calls"),
                    ("hubspot", "meetings"), ("hubspot", "tasks"), ("shopify", "customers"), ("shopify", "orders"),
                    ("shopify", "checkouts"), ("klaviyo", "profiles"), ("klaviyo", "events"), ("meta", "leads")]
# Written whole from the catalogue; every one is written, empty when the account shape has none.
FIXTURE_RESOURCES = [("shopify", "products"), ("hubspot", "owners"), ("hubspot", "pipelines"), ("klaviyo", "metrics"),
                     ("klaviyo", "lists"), ("klaviyo", "campaigns"), ("meta", "campaigns"), ("meta", "leadgen_forms")]
PEOPLE_SCHEMA = pa.schema([("person_id", pa.string()), ("state", pa.string())])
DEVICE_SCHEMA = pa.schema([("device_id", pa.string()), ("owner", pa.string()), ("shared", pa.bool_())])
# Ids of each kind a chunk may hand out. A chunk of 5,000 people uses about 200,000 of the most frequent
# kind (Klaviyo events); chunk 199 of `large` still ends below 2e9, inside every id format's width.
ID_SPAN = 10_000_000
# zlib level of the event files: level 9 took 2.6x the time of level 6 for 6% smaller files.
GZIP_LEVEL = 6


class Appender:
    """Parquet files grown chunk by chunk under a temporary name, renamed into place at the end."""

    def __init__(self) -> None:
        self.writers: dict[Path, tuple[pq.ParquetWriter, Path]] = {}

    def append(self, path: Path, table: pa.Table) -> None:
        if path not in self.writers:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            self.writers[path] = (pq.ParquetWriter(tmp, table.schema, compression="zstd"), tmp)
        self.writers[path][0].write_table(table)

    def close(self) -> None:
        for path, (writer, tmp) in self.writers.items():
            writer.close()
            tmp.replace(path)
        self.writers.clear()


def day_file_members(arrived: pa.Table) -> list[tuple[str, bytes]]:
    """Gzip members to append to each event day's file: the on-time events, then the late ones (each
    group its own member), days in order."""
    by_day: dict[str, tuple[list[str], list[str]]] = {}
    for day, line, is_late in zip(arrived["day"].to_pylist(), arrived["line"].to_pylist(),
                                  arrived["late"].to_pylist(), strict=True):
        by_day.setdefault(day, ([], []))[1 if is_late else 0].append(line)
    return [(day, b"".join(gzip.compress(("\n".join(group) + "\n").encode(), compresslevel=GZIP_LEVEL, mtime=0)
                           for group in by_day[day] if group))
            for day in sorted(by_day)]


def append_members(world_dir: Path, members: list[tuple[str, bytes]]) -> None:
    folder = world_dir / "mixpanel" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    for day, data in members:
        with open(folder / f"date={day}.ndjson.gz", "ab") as f:
            f.write(data)


def split_arrived(events: pa.Table, as_of: int) -> tuple[pa.Table, pa.Table]:
    """(events arrived by as_of, events still pending)."""
    return (events.filter(pc.less_equal(events["arrives_at"], as_of)),
            events.filter(pc.greater(events["arrives_at"], as_of)))


def append_day_files(world_dir: Path, events: pa.Table, as_of: int) -> pa.Table:
    """Append arrived events to their day files; return the events still pending."""
    arrived, pending = split_arrived(events, as_of)
    append_members(world_dir, day_file_members(arrived))
    return pending


def person_truth_table(people: list[dict]) -> pa.Table:
    from sandbox.world.config import CATEGORIES

    def stamp(values):
        return pa.array([int(v * 1e6) for v in values], pa.int64()).cast(pa.timestamp("us", tz="UTC"))

    cols = {
        "person_id": [p["person_id"] for p in people],
        "acquired_at": stamp([p["acquired_at"] for p in people]),
        "dropout_at": stamp([p["dropout_at"] for p in people]),
        "purchase_rate_per_day": [p["lam"] for p in people],
        "dropout_rate_per_day": [p["mu"] for p in people],
        "email_propensity": [p["email_propensity"] for p in people],
        "pref_web": [p["prefs"][0] for p in people],
        "pref_app": [p["prefs"][1] for p in people],
        "pref_pos": [p["prefs"][2] for p in people],
        "acquisition_source": [p["source"] for p in people],
        "country": [p["country"] for p in people],
        "n_emails": [len(set(p["emails"])) for p in people],
        "family_email": [p["family_email_of"] is not None for p in people],
        "top_interest": [CATEGORIES[int(np.argmax(p["interests"]))] for p in people],
        "interests": pa.array([p["interests"] for p in people], pa.list_(pa.float64())),
        "orders": pa.array([p["orders"] for p in people], pa.int64()),
        "first_order_at": stamp([p["first_order_at"] or 0 for p in people]),
    }
    return pa.table(cols)


@dataclass(frozen=True)
class ChunkPlan:
    """Everything a worker needs to simulate one chunk of people on its own."""

    seed: int
    index: int
    first_serial: int
    acquired_at: np.ndarray  # acquisition times of the chunk's people, in serial order
    started_s: int
    as_of_s: int
    fixtures: dict  # products, email_campaigns, ad_campaigns, owners, forms
    shape: str = DEFAULT_SHAPE
    conventions: str = DEFAULT_CONVENTIONS


@dataclass
class ChunkOutput:
    index: int
    first_serial: int
    last_serial: int
    world_tables: list[tuple[str, pa.Table]]  # path under the world folder -> rows to append
    sandbox_tables: list[tuple[str, pa.Table]]  # path under the sandbox folder -> rows to append
    day_members: list[tuple[str, bytes]]
    pending: pa.Table
    meta_counts: dict
    counters: dict[str, int]
    n_events: int
    n_late: int
    seconds: float = field(default=0.0)


def simulate_chunk(plan: ChunkPlan) -> ChunkOutput:
    """One chunk's whole life up to as_of, rendered into the rows its files get. Runs in a worker."""
    started = time.perf_counter()
    conventions = conventions_for(plan.conventions)
    rates = conventions.rates
    fx = plan.fixtures
    rng = np.random.default_rng([plan.seed, 2, plan.first_serial - 1])
    serials = np.arange(plan.first_serial, plan.first_serial + len(plan.acquired_at))
    people = draw_chunk(rng, rates, serials, plan.acquired_at, conventions)
    pair_family_and_devices(rng, rates, people, conventions)
    ctx = Context(rates, fx["products"], fx["email_campaigns"], fx["ad_campaigns"], fx["owners"], fx["forms"],
                  catalog.METRICS, {}, plan.as_of_s, id_base=plan.index * ID_SPAN, id_span=ID_SPAN)
    out = Emitter(plan.shape)
    for p in people:
        simulate_person(p, plan.started_s, plan.as_of_s, rng, ctx, out)
        render_person(p, out)
    events = out.event_table()
    arrived, pending = split_arrived(events, plan.as_of_s)
    world_tables = [(f"{vendor}/{name}.parquet", out.record_table((vendor, name))) for vendor, name in PEOPLE_RESOURCES]
    devices = [(d["id"], p["person_id"], "shared_with" in d) for p in people for d in p["devices"]]
    sandbox_tables = [
        ("record_identifiers.parquet", out.identifier_table()),
        ("entity_truth.parquet", out.ground_truth_table()),
        ("people.parquet", pa.table([[p["person_id"] for p in people],
                                     [json.dumps(p, separators=(",", ":")) for p in people]], schema=PEOPLE_SCHEMA)),
        ("devices.parquet", pa.table(list(map(list, zip(*devices, strict=True))), schema=DEVICE_SCHEMA)),
        ("person_truth.parquet", person_truth_table(people)),
    ]
    return ChunkOutput(plan.index, int(serials[0]), int(serials[-1]), world_tables, sandbox_tables,
                       day_file_members(arrived), pending, {k: out.meta_counts[k] for k in sorted(out.meta_counts)},
                       dict(ctx.counters), events.num_rows, int(pc.sum(events["late"]).as_py() or 0),
                       time.perf_counter() - started)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def chunk_outputs(plans: list[ChunkPlan], workers: int) -> Iterator[ChunkOutput]:
    """Chunk outputs in chunk order. With several workers, at most workers + 1 chunks are in flight, so
    finished outputs never pile up in the parent while it writes."""
    if workers <= 1 or len(plans) <= 1:
        for plan in plans:
            yield simulate_chunk(plan)
        return
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent holds Arrow and DuckDB thread pools, which a forked child must not inherit
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        todo = iter(plans)
        in_flight = deque(pool.submit(simulate_chunk, plan) for _, plan in zip(range(workers + 1), todo,
                                                                              strict=False))
        while in_flight:
            output = in_flight.popleft().result()
            plan = next(todo, None)
            if plan is not None:
                in_flight.append(pool.submit(simulate_chunk, plan))
            yield output


def finish(world_dir: Path, sandbox: Path, seed: int, state: dict, as_of_s: int, started_s: int,
           pending: pa.Table, progress: Callable[[str], None]) -> None:
    """Fixtures, insights, pending events, truth files: what is written whole."""
    out = Emitter(state["shape"])
    catalog.emit_fixtures(out, seed, started_s, as_of_s, state, state["credentials"]["meta"]["page_id"])
    scale = state["n_people"] / 3000.0
    for rid, created, updated, body in catalog.insight_rows(seed, state, started_s // int(DAY),
                                                            as_of_s // int(DAY), scale):
        out.record("meta", "insights", rid, created, updated, body)
    for key in [*FIXTURE_RESOURCES, ("meta", "insights")]:
        write_resource(world_dir, key[0], key[1], out.record_table(key))
    pq.write_table(pending.sort_by([("arrives_at", "ascending"), ("line", "ascending")]).select(
        ["arrives_at", "day", "line", "time", "late"]), world_dir / "mixpanel" / "pending.parquet.tmp")
    (world_dir / "mixpanel" / "pending.parquet.tmp").replace(world_dir / "mixpanel" / "pending.parquet")
    counts = build_truth(sandbox, datetime.fromtimestamp(as_of_s, UTC))
    progress(f"truth: {counts['records']} records, {counts['linkable']} linkable")


def generate_world(world_dir: Path, size: str = "small", seed: int = 7, as_of: datetime | None = None,
                   progress: Callable[[str], None] = print, shape: str = DEFAULT_SHAPE,
                   conventions: str = DEFAULT_CONVENTIONS) -> dict:
    return build_world(world_dir, size, seed, as_of, progress, workers=default_workers(), shape=shape,
                       conventions=conventions)


def build_world(world_dir: Path, size: str, seed: int, as_of: datetime | None = None,
                progress: Callable[[str], None] = print, workers: int = 1, shape: str = DEFAULT_SHAPE,
                conventions: str = DEFAULT_CONVENTIONS) -> dict:
    """`generate_world` with the number of worker processes chosen (the world is the same for any).
    `conventions` names how people write themselves down and share (config.CONVENTIONS)."""
    world_dir = Path(world_dir)
    sandbox = world_dir.parent
    # Bad arguments are refused before anything on disk is touched.
    n_people = people_for(size)
    check_shape(shape)
    rates = conventions_for(conventions).rates
    as_of = (as_of or DEFAULT_AS_OF).astimezone(UTC)
    started = as_of - timedelta(days=history_days(shape, HISTORY_DAYS))
    as_of_s, started_s = int(as_of.timestamp()), int(started.timestamp())
    if world_dir.exists():
        shutil.rmtree(world_dir)
    world_dir.mkdir(parents=True)
    for name in ("record_identifiers", "entity_truth", "people", "devices", "ground_truth", "identifier_truth",
                 "person_truth"):
        (sandbox / f"{name}.parquet").unlink(missing_ok=True)
    horizon = as_of_s + 5 * 365 * int(DAY)
    state = {
        "seed": seed, "size": size, "n_people": n_people, "counters": {}, "products": catalog.products(seed, started_s),
        "owners": catalog.owners(), "forms": catalog.lead_forms(),
        "email_campaigns": catalog.email_campaigns(started_s, horizon),
        "ad_campaigns": catalog.ad_campaigns(started_s, horizon), "meta_counts": {},
        "credentials": catalog.credentials(seed), "events": {"total": 0, "late": 0}, "days_advanced": 0,
        "shape": shape, "conventions": conventions,
    }
    fixtures = {key: state[key] for key in ("products", "email_campaigns", "ad_campaigns", "owners", "forms")}
    acquisition_rng = np.random.default_rng([seed, 1])
    acquired_all = np.sort(acquisition_rng.uniform(started_s, as_of_s, n_people))
    plans = [ChunkPlan(seed, index, chunk_start + 1, acquired_all[chunk_start:chunk_start + CHUNK_PEOPLE],
                       started_s, as_of_s, fixtures, shape, conventions)
             for index, chunk_start in enumerate(range(0, n_people, CHUNK_PEOPLE))]
    appender = Appender()
    pending_parts = []
    try:
        for chunk in chunk_outputs(plans, workers):
            for path, table in chunk.world_tables:
                appender.append(world_dir / path, table)
            for path, table in chunk.sandbox_tables:
                appender.append(sandbox / path, table)
            append_members(world_dir, chunk.day_members)
            pending_parts.append(chunk.pending)
            merge_meta_counts(state, chunk.meta_counts)
            for name, last in chunk.counters.items():
                state["counters"][name] = max(state["counters"].get(name, 0), last)
            state["events"]["total"] += chunk.n_events
            state["events"]["late"] += chunk.n_late
            progress(f"people {chunk.first_serial}-{chunk.last_serial} of {n_people}: {chunk.n_events} events "
                     f"({chunk.seconds:.1f}s in a worker)")
    finally:
        appender.close()
    pending = pa.concat_tables(pending_parts) if pending_parts else EVENT_SCHEMA.empty_table()
    finish(world_dir, sandbox, seed, state, as_of_s, started_s, pending, progress)
    write_state(sandbox, state)
    world = {"seed": seed, "size": size, "shape": shape, "conventions": conventions, "as_of": as_of.isoformat(), "started_at": started.isoformat(),
             "generated_at": as_of.isoformat(), "rates": rates.as_dict(), "credentials": state["credentials"]}
    write_world_json(world_dir, world)
    set_clock_if_default(world_dir, as_of)
    return world


def merge_meta_counts(state: dict, meta_counts: dict[tuple[str, str], dict[str, int]]) -> None:
    for (campaign_id, day), counts in sorted(meta_counts.items()):
        bucket = state["meta_counts"].setdefault(f"{campaign_id}|{day}", {})
        for action, n in counts.items():
            bucket[action] = bucket.get(action, 0) + n


def write_state(sandbox: Path, state: dict) -> None:
    path = sandbox / "world_state.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, separators=(",", ":")))
    tmp.replace(path)


def read_state(sandbox: Path) -> dict:
    return json.loads((sandbox / "world_state.json").read_text())


def set_clock_if_default(world_dir: Path, as_of: datetime) -> None:
    """The pipeline's clock follows the world when the world is the one under $CDP_HOME."""
    from cdp.clock import set_as_of
    from cdp.paths import world_dir as default_world_dir

    if Path(world_dir).resolve() == default_world_dir():
        set_as_of(as_of)


def disk_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


class PeakMemory:
    """Peak resident memory of this process and its children together, sampled twice a second: the
    workers' memory counts, and getrusage reports only the largest single process."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:  # a child that just exited
                    pass
            self.peak = max(self.peak, total)
            if self._stop.wait(0.5):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic world for the sandbox.")
    parser.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="the sandbox folder; the world goes in OUT/world")
    parser.add_argument("--conventions", default=DEFAULT_CONVENTIONS, choices=list(CONVENTIONS),
                        help="how people write themselves down and share (sandbox/world/config.py)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="worker processes simulating chunks of people (the world is the same for any)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with PeakMemory() as memory:
        world = build_world(args.out / "world", args.size, args.seed, workers=args.workers,
                            conventions=args.conventions,
                            progress=lambda line: print(line, flush=True))  # a log file shows progress live
    elapsed = time.perf_counter() - started
    state = read_state(args.out)
    records = pq.read_metadata(args.out / "ground_truth.parquet").num_rows
    print(f"generated {world['size']} world (seed {args.seed}, {args.workers} workers) in {elapsed:.1f}s; "
          f"peak memory {memory.peak / 2**20:.0f} MB (all processes); disk {disk_size(args.out) / 1e6:.1f} MB; "
          f"{state['events']['total']} analytics events; {records} entity records in the ground truth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
