"""Generate a whole world: `generate_world(world_dir, size, seed)` or
`python -m sandbox.world.generate --size large --seed 7 --out DIR`.

People are processed in chunks (config.CHUNK_PEOPLE) and each chunk's records are appended to the output
files, so memory stays bounded whatever the size. Everything random comes from numpy Generators seeded
from (seed, purpose, chunk), so the same seed gives byte-identical record contents.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sandbox.world import catalog
from sandbox.world.config import CHUNK_PEOPLE, DEFAULT_AS_OF, DEFAULT_RATES, HISTORY_DAYS, people_for
from sandbox.world.emit import EVENT_SCHEMA, Emitter
from sandbox.world.people import DAY, draw_chunk, pair_family_and_devices
from sandbox.world.render import render_person
from sandbox.world.simulate import Context, simulate_person
from sandbox.world.store import records_table, write_resource, write_world_json
from sandbox.world.truth import build_truth

# Entity and event resources written chunk by chunk; the rest are small fixtures written whole.
PEOPLE_RESOURCES = [("hubspot", "contacts"), ("hubspot", "companies"), ("hubspot", "deals"), ("hubspot", "calls"),
                    ("hubspot", "meetings"), ("hubspot", "tasks"), ("shopify", "customers"), ("shopify", "orders"),
                    ("shopify", "checkouts"), ("klaviyo", "profiles"), ("klaviyo", "events"), ("meta", "leads")]
PEOPLE_SCHEMA = pa.schema([("person_id", pa.string()), ("state", pa.string())])
DEVICE_SCHEMA = pa.schema([("device_id", pa.string()), ("owner", pa.string()), ("shared", pa.bool_())])


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


def append_day_files(world_dir: Path, events: pa.Table, as_of: int) -> pa.Table:
    """Append arrived events to their day files (one gzip member per call, on-time first, then the late
    ones); return the events still pending."""
    arrived = events.filter(pa.compute.less_equal(events["arrives_at"], as_of))
    folder = world_dir / "mixpanel" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    days = arrived["day"].to_pylist()
    lines = arrived["line"].to_pylist()
    late = arrived["late"].to_pylist()
    by_day: dict[str, tuple[list[str], list[str]]] = {}
    for day, line, is_late in zip(days, lines, late, strict=True):
        by_day.setdefault(day, ([], []))[1 if is_late else 0].append(line)
    for day in sorted(by_day):
        with open(folder / f"date={day}.ndjson.gz", "ab") as f:
            for group in by_day[day]:
                if group:
                    f.write(gzip.compress(("\n".join(group) + "\n").encode(), mtime=0))
    return events.filter(pa.compute.greater(events["arrives_at"], as_of))


def write_chunk(world_dir: Path, sandbox: Path, out: Emitter, people: list[dict], appender: Appender,
                as_of: int) -> pa.Table:
    for vendor, resource_name in PEOPLE_RESOURCES:
        appender.append(world_dir / vendor / f"{resource_name}.parquet", out.record_table((vendor, resource_name)))
    appender.append(sandbox / "record_identifiers.parquet", out.identifier_table())
    appender.append(sandbox / "entity_truth.parquet", out.ground_truth_table())
    appender.append(sandbox / "people.parquet", pa.table(
        [[p["person_id"] for p in people], [json.dumps(p, separators=(",", ":")) for p in people]],
        schema=PEOPLE_SCHEMA))
    devices = [(d["id"], p["person_id"], "shared_with" in d) for p in people for d in p["devices"]]
    appender.append(sandbox / "devices.parquet", pa.table(list(map(list, zip(*devices, strict=True))),
                                                          schema=DEVICE_SCHEMA))
    return append_day_files(world_dir, out.event_table(), as_of)


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
        "interests": [p["interests"] for p in people],
        "orders": [p["orders"] for p in people],
        "first_order_at": stamp([p["first_order_at"] or 0 for p in people]),
    }
    return pa.table(cols)


def finish(world_dir: Path, sandbox: Path, seed: int, state: dict, as_of_s: int, started_s: int,
           pending: pa.Table, fixtures_from: int, progress: Callable[[str], None]) -> None:
    """Fixtures, insights, pending events, person truth, truth files: what is written whole."""
    out = Emitter()
    catalog.emit_fixtures(out, seed, started_s, as_of_s, state, state["credentials"]["meta"]["page_id"])
    for key in sorted(out.records):
        write_resource(world_dir, key[0], key[1], out.record_table(key))
    scale = state["n_people"] / 3000.0
    insights = catalog.insight_rows(seed, state, started_s // int(DAY), as_of_s // int(DAY), scale)
    write_resource(world_dir, "meta", "insights", records_table(
        (rid, datetime.fromtimestamp(c, UTC), datetime.fromtimestamp(u, UTC), body) for rid, c, u, body in insights))
    pq.write_table(pending.sort_by([("arrives_at", "ascending"), ("line", "ascending")]).select(
        ["arrives_at", "day", "line", "time", "late"]), world_dir / "mixpanel" / "pending.parquet.tmp")
    (world_dir / "mixpanel" / "pending.parquet.tmp").replace(world_dir / "mixpanel" / "pending.parquet")
    people = [json.loads(s) for s in pq.read_table(sandbox / "people.parquet")["state"].to_pylist()]
    pq.write_table(person_truth_table(people), sandbox / "person_truth.parquet")
    counts = build_truth(sandbox, datetime.fromtimestamp(as_of_s, UTC))
    progress(f"truth: {counts['records']} records, {counts['linkable']} linkable")


def generate_world(world_dir: Path, size: str = "small", seed: int = 7, as_of: datetime | None = None,
                   progress: Callable[[str], None] = print) -> dict:
    world_dir = Path(world_dir)
    sandbox = world_dir.parent
    n_people = people_for(size)
    as_of = (as_of or DEFAULT_AS_OF).astimezone(UTC)
    started = as_of - timedelta(days=HISTORY_DAYS)
    as_of_s, started_s = int(as_of.timestamp()), int(started.timestamp())
    if world_dir.exists():
        shutil.rmtree(world_dir)
    world_dir.mkdir(parents=True)
    for name in ("record_identifiers", "entity_truth", "people", "devices", "ground_truth", "identifier_truth",
                 "person_truth"):
        (sandbox / f"{name}.parquet").unlink(missing_ok=True)
    rates = DEFAULT_RATES
    horizon = as_of_s + 5 * 365 * int(DAY)
    state = {
        "seed": seed, "size": size, "n_people": n_people, "counters": {}, "products": catalog.products(seed, started_s),
        "owners": catalog.owners(), "forms": catalog.lead_forms(),
        "email_campaigns": catalog.email_campaigns(started_s, horizon),
        "ad_campaigns": catalog.ad_campaigns(started_s, horizon), "meta_counts": {},
        "credentials": catalog.credentials(seed), "events": {"total": 0, "late": 0}, "days_advanced": 0,
    }
    ctx = Context(rates, state["products"], state["email_campaigns"], state["ad_campaigns"], state["owners"],
                  state["forms"], catalog.METRICS, state["counters"], as_of_s)
    appender = Appender()
    pending_parts = []
    acquisition_rng = np.random.default_rng([seed, 1])
    acquired_all = np.sort(acquisition_rng.uniform(started_s, as_of_s, n_people))
    for chunk_start in range(0, n_people, CHUNK_PEOPLE):
        t_chunk = time.perf_counter()
        rng = np.random.default_rng([seed, 2, chunk_start])
        serials = np.arange(chunk_start + 1, min(n_people, chunk_start + CHUNK_PEOPLE) + 1)
        people = draw_chunk(rng, rates, serials, acquired_all[serials - 1])
        pair_family_and_devices(rng, rates, people)
        out = Emitter()
        for p in people:
            simulate_person(p, started_s, as_of_s, rng, ctx, out)
            render_person(p, out)
        merge_meta_counts(state, out)
        events = out.event_table()
        state["events"]["total"] += events.num_rows
        state["events"]["late"] += int(pa.compute.sum(events["late"]).as_py() or 0)
        pending_parts.append(write_chunk(world_dir, sandbox, out, people, appender, as_of_s))
        progress(f"people {serials[0]}-{serials[-1]} of {n_people}: {events.num_rows} events "
                 f"({time.perf_counter() - t_chunk:.1f}s)")
    appender.close()
    pending = pa.concat_tables(pending_parts) if pending_parts else EVENT_SCHEMA.empty_table()
    finish(world_dir, sandbox, seed, state, as_of_s, started_s, pending, started_s, progress)
    write_state(sandbox, state)
    world = {"seed": seed, "size": size, "as_of": as_of.isoformat(), "started_at": started.isoformat(),
             "generated_at": as_of.isoformat(), "rates": rates.as_dict(), "credentials": state["credentials"]}
    write_world_json(world_dir, world)
    set_clock_if_default(world_dir, as_of)
    return world


def merge_meta_counts(state: dict, out: Emitter) -> None:
    for (campaign_id, day), counts in sorted(out.meta_counts.items()):
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic world for the sandbox.")
    parser.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="the sandbox folder; the world goes in OUT/world")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    generate_world(args.out / "world", args.size, args.seed)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generated {args.size} world (seed {args.seed}) in {elapsed:.1f}s; peak memory {peak_mb:.0f} MB; "
          f"disk {disk_size(args.out) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
