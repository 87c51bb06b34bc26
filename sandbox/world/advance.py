"""Move a generated world forward by whole days: `advance_world(world_dir, days)`.

Each day plays every person's life for that day with the same simulation as generation (Poisson processes
are memoryless, so a day at a time is the same process), adds the day's new people, forces a sample of
routine updates (at least 1% of contacts, deals, orders and profiles), delivers late events whose arrival
time has come, and rewrites the truth. Randomness is seeded by (seed, day number): same seed and same
advances give the same world.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sandbox.world import catalog
from sandbox.world.config import DEFAULT_RATES
from sandbox.world.emit import EVENT_SCHEMA, Emitter, shopify_time
from sandbox.world.generate import (
    DEVICE_SCHEMA,
    PEOPLE_RESOURCES,
    PEOPLE_SCHEMA,
    append_day_files,
    merge_meta_counts,
    person_truth_table,
    read_state,
    set_clock_if_default,
    write_state,
)
from sandbox.world.people import DAY, draw_chunk, pair_family_and_devices
from sandbox.world.render import render_person
from sandbox.world.shapes import DEFAULT_SHAPE, reshape
from sandbox.world.simulate import Context, refund_body, simulate_person
from sandbox.world.store import RECORD_SCHEMA, records_table, write_resource, write_world_json
from sandbox.world.truth import build_truth

UPDATE_SHARE = 0.015  # above the brief's "at least 1% per day", so rounding never drops below it


def advance_world(world_dir: Path, days: int, progress: Callable[[str], None] = print) -> dict:
    if days < 1:
        raise ValueError("advance by at least one whole day")
    world_dir = Path(world_dir)
    sandbox = world_dir.parent
    world = json.loads((world_dir / "world.json").read_text())
    state = read_state(sandbox)
    people = [json.loads(s) for s in pq.read_table(sandbox / "people.parquet")["state"].to_pylist()]
    as_of = datetime.fromisoformat(world["as_of"])
    summary: dict[str, int] = {}
    for _ in range(days):
        day_summary = advance_one_day(world_dir, state, people, int(as_of.timestamp()), progress)
        for key, n in day_summary.items():
            summary[key] = summary.get(key, 0) + n
        as_of += timedelta(days=1)
    pq.write_table(pa.table([[p["person_id"] for p in people],
                             [json.dumps(p, separators=(",", ":")) for p in people]], schema=PEOPLE_SCHEMA),
                   sandbox / "people.parquet")
    pq.write_table(person_truth_table(people), sandbox / "person_truth.parquet")
    build_truth(sandbox, as_of)
    write_state(sandbox, state)
    world["as_of"] = as_of.isoformat()
    write_world_json(world_dir, world)
    set_clock_if_default(world_dir, as_of)
    return {"as_of": world["as_of"], "days": days, "changed": summary}


def advance_one_day(world_dir: Path, state: dict, people: list[dict], t0: int,
                    progress: Callable[[str], None]) -> dict[str, int]:
    sandbox = world_dir.parent
    t1 = t0 + int(DAY)
    day_number = state["days_advanced"] = state["days_advanced"] + 1
    rng = np.random.default_rng([state["seed"], 3, day_number])
    rates = DEFAULT_RATES
    ctx = Context(rates, state["products"], state["email_campaigns"], state["ad_campaigns"], state["owners"],
                  state["forms"], catalog.METRICS, state["counters"], t1)
    # New people arrive at the generation's average pace.
    n_new = int(rng.poisson(state["n_people"] / 730.0))
    first = len(people) + 1
    newcomers = draw_chunk(rng, rates, np.arange(first, first + n_new), np.sort(rng.uniform(t0, t1, n_new)))
    pair_family_and_devices(rng, rates, newcomers)
    people.extend(newcomers)
    out = Emitter(state.get("shape", DEFAULT_SHAPE))
    for p in people:
        simulate_person(p, t0, t1, rng, ctx, out)
    forced = force_updates(people, rng, t0)
    touched = [p for p in people if was_touched(p, t0)]
    for p in touched:
        render_person(p, out)
    merge_meta_counts(state, out.meta_counts)
    summary: dict[str, int] = {"people_added": n_new, **forced}
    summary["orders_updated"] = update_orders(world_dir, rng, t0, ctx, out)
    for vendor, resource in PEOPLE_RESOURCES:
        new = out.record_table((vendor, resource))
        summary[f"{vendor}.{resource}"] = new.num_rows
        merge_resource(world_dir, vendor, resource, new)
    replace_truth_rows(sandbox, out, newcomers)
    scale = state["n_people"] / 3000.0
    for rid, created, updated, body in catalog.insight_rows(state["seed"], state, t0 // int(DAY), t1 // int(DAY),
                                                            scale):
        out.record("meta", "insights", rid, created, updated, body)
    merge_resource(world_dir, "meta", "insights", out.record_table(("meta", "insights")))
    events = out.event_table()
    state["events"]["total"] += events.num_rows
    state["events"]["late"] += int(pc.sum(events["late"]).as_py() or 0)
    pending_path = world_dir / "mixpanel" / "pending.parquet"
    old_pending = pq.read_table(pending_path).select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
    summary["late_events_delivered"] = int(pc.sum(pc.less_equal(old_pending["arrives_at"], t1)).as_py() or 0)
    # New events first (one member per day file), then late arrivals as a further member of older days.
    still_new = append_day_files(world_dir, events, t1)
    still_old = append_day_files(world_dir, old_pending, t1)
    pending = pa.concat_tables([still_old, still_new]).sort_by([("arrives_at", "ascending"), ("line", "ascending")])
    tmp = pending_path.with_name("pending.parquet.tmp")
    pq.write_table(pending.select(["arrives_at", "day", "line", "time", "late"]), tmp)
    tmp.replace(pending_path)
    summary["events_added"] = events.num_rows
    progress(f"advanced to {shopify_time(t1)}: {summary}")
    return summary


def force_updates(people: list[dict], rng: np.random.Generator, t0: int) -> dict[str, int]:
    """The day's routine edits: sales updates contacts and deals, the messaging tool enriches profiles."""
    def sample(items: list) -> list:
        k = min(len(items), math.ceil(len(items) * UPDATE_SHARE))
        return [items[i] for i in sorted(rng.choice(len(items), k, replace=False))] if k else []

    when = lambda: t0 + int(rng.uniform(8, 18) * 3600)  # noqa: E731 - office hours
    contacts = [(p, c) for p in people for c in p["contacts"] if c["created"] < t0]
    for p, contact in sample(contacts):
        contact["updated"] = when()
        contact["stage"] = contact.get("stage") or ("opportunity" if p["deals"] else "marketingqualifiedlead")
    deals = [d for p in people for d in p["deals"] if d["created"] < t0]
    for deal in sample(deals):
        deal["updated"] = when()
        deal["amount"] = f"{float(deal['amount']) * float(rng.uniform(0.9, 1.2)):.2f}"
    profiles = [p for p in people if p["profile_id"] is not None and p["profile_created"] < t0]
    for p in sample(profiles):
        p["profile_updated"] = when()
        p["profile_loyalty"] = True
    return {"contacts_updated": math.ceil(len(contacts) * UPDATE_SHARE),
            "deals_updated": math.ceil(len(deals) * UPDATE_SHARE),
            "profiles_updated": math.ceil(len(profiles) * UPDATE_SHARE)}


def was_touched(p: dict, t0: int) -> bool:
    stamps = [p["customer_updated"], p["profile_updated"], p.get("company_created")]
    stamps += [c["updated"] for c in p["contacts"]] + [d["updated"] for d in p["deals"]]
    return any(s is not None and s >= t0 for s in stamps)


def update_orders(world_dir: Path, rng: np.random.Generator, t0: int, ctx: Context, out: Emitter) -> int:
    """Fulfil open orders, refund some: the order's updated_at moves, so incremental reads see it."""
    table = pq.read_table(world_dir / "shopify" / "orders.parquet")
    n = table.num_rows
    k = min(n, math.ceil(n * UPDATE_SHARE))
    if not k:
        return 0
    chosen = sorted(rng.choice(n, k, replace=False))
    ids, bodies = table["id"].to_pylist(), table["body"].to_pylist()
    created = table["created_at"].cast(pa.int64()).to_pylist()
    changed = []
    for i in chosen:
        body = json.loads(bodies[i])
        t = t0 + int(rng.uniform(8, 18) * 3600)
        if body.get("fulfillment_status") is None:
            body["fulfillment_status"] = "fulfilled"
        elif not body.get("refunds") and not body.get("cancelled_at"):
            body["refunds"].append(refund_body(body["line_items"][0], t, ctx))
            body["financial_status"] = "refunded" if len(body["line_items"]) == 1 else "partially_refunded"
        else:
            body["tags"] = "reviewed"
        body["updated_at"] = shopify_time(t)
        # The account's shape holds for updates too (a young shop's refund is not kept, as at generation).
        body = reshape(out.shape, "shopify", "orders", ids[i], body)
        changed.append((ids[i], datetime.fromtimestamp(created[i] / 1e6, UTC), datetime.fromtimestamp(t, UTC), body))
    merge_resource(world_dir, "shopify", "orders", records_table(changed))
    return k


def merge_resource(world_dir: Path, vendor: str, resource: str, new: pa.Table) -> None:
    """Replace records with the same id, append the rest, keep the file ordered by creation."""
    path = world_dir / vendor / f"{resource}.parquet"
    if new.num_rows == 0:
        return
    new = new.cast(RECORD_SCHEMA)
    if path.exists():
        old = pq.read_table(path).cast(RECORD_SCHEMA)
        old = old.filter(pc.invert(pc.is_in(old["id"], value_set=new["id"])))
        new = pa.concat_tables([old, new])
    write_resource(world_dir, vendor, resource, new.sort_by([("created_at", "ascending"), ("id", "ascending")]))


def replace_truth_rows(sandbox: Path, out: Emitter, newcomers: list[dict]) -> None:
    new_ids, new_gt = out.identifier_table(), out.ground_truth_table()
    replaced = new_gt["record_id"]
    for name, new in (("record_identifiers", new_ids), ("entity_truth", new_gt)):
        path = sandbox / f"{name}.parquet"
        old = pq.read_table(path)
        keep = pc.invert(pc.and_(pc.is_in(old["record_id"], value_set=replaced), pc.not_equal(
            old["record_type"], "device")))
        pq.write_table(pa.concat_tables([old.filter(keep), new.cast(old.schema)]), path)
    devices = [(d["id"], p["person_id"], "shared_with" in d) for p in newcomers for d in p["devices"]]
    if devices:
        path = sandbox / "devices.parquet"
        new = pa.table(list(map(list, zip(*devices, strict=True))), schema=DEVICE_SCHEMA)
        pq.write_table(pa.concat_tables([pq.read_table(path), new]), path)
