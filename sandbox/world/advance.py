"""Move a generated world forward by whole days: `advance_world(world_dir, days)`.

Each day plays every person's life for that day with the same simulation as generation (Poisson processes
are memoryless, so a day at a time is the same process), adds the day's new people, forces a sample of
routine updates (at least 1% of contacts, deals, orders and profiles), plays the vendors' own deletions
and merges (`vendor_changes`), delivers late events whose arrival time has come, and rewrites the truth.
Randomness is seeded by (seed, day number): same seed and same advances give the same world.

Deletions and merges, as the real accounts see them (a small share each day, never at generation):
- HubSpot: a CRM duplicate is merged into its person's original contact (the survivor's
  `hs_merged_object_ids` lists it and its `updatedAt` moves; the duplicate leaves `contacts.parquet`);
  contacts and deals whose story is over are archived (moved to `archived_contacts.parquet` /
  `archived_deals.parquet` with `archived: true` and `archivedAt`, which only `?archived=true` lists).
- Shopify: customers without orders who have left are deleted (gone from `customers.parquet`; Shopify refuses
  to delete a customer with orders).
- Klaviyo: profiles of people who have left are deleted (gone, with their later events); others are
  suppressed (kept, `can_receive_email_marketing` false with a `USER_SUPPRESSED` suppression).
The ledger of what was done lives in the world state (`vendor_changes`) so a record never comes back when its
person is rendered again. The truth follows: a merged contact keeps its row (it is still that person's
record, reachable through the survivor); archived and deleted records leave the truth files, as the pipeline
can no longer see them.
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
from sandbox.world.config import DEFAULT_CONVENTIONS, conventions_for
from sandbox.world.emit import EVENT_SCHEMA, Emitter, hubspot_time, klaviyo_time, shopify_time
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
# Daily shares of the vendors' own deletions and merges, each rounded up so a small world sees one a day.
MERGE_SHARE = 0.05  # of the CRM duplicates not merged yet: sales cleans duplicates up over a few weeks
ARCHIVE_SHARE = 0.002  # of the contacts (and of the deals) whose story is over
DELETE_SHARE = 0.002  # of the shop customers and of the messaging profiles that may be deleted
SUPPRESS_SHARE = 0.002  # of the messaging profiles
# Which truth record type each deletable resource holds.
TRUTH_TYPES = {("hubspot", "contacts"): ("hubspot", "contact"), ("shopify", "customers"): ("shopify", "customer"),
               ("klaviyo", "profiles"): ("klaviyo", "profile")}


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
    # a world made before conventions existed is a dev world
    conventions = conventions_for(state.get("conventions", DEFAULT_CONVENTIONS))
    rates = conventions.rates
    ctx = Context(rates, state["products"], state["email_campaigns"], state["ad_campaigns"], state["owners"],
                  state["forms"], catalog.METRICS, state["counters"], t1)
    # New people arrive at the generation's average pace.
    n_new = int(rng.poisson(state["n_people"] / 730.0))
    first = len(people) + 1
    newcomers = draw_chunk(rng, rates, np.arange(first, first + n_new), np.sort(rng.uniform(t0, t1, n_new)),
                           conventions)
    pair_family_and_devices(rng, rates, newcomers, conventions)
    people.extend(newcomers)
    out = Emitter(state.get("shape", DEFAULT_SHAPE))
    for p in people:
        simulate_person(p, t0, t1, rng, ctx, out)
    forced = force_updates(people, rng, t0)
    # Its own random stream, so the vendors' changes do not shift the day's other draws.
    ledger = state.setdefault("vendor_changes", empty_ledger())
    today = vendor_changes(people, ledger, np.random.default_rng([state["seed"], 5, day_number]), t0)
    touched = [p for p in people if was_touched(p, t0)]
    for p in touched:
        render_person(p, out)
    archived = apply_ledger(out, ledger, today)
    merge_meta_counts(state, out.meta_counts)
    summary: dict[str, int] = {"people_added": n_new, **forced, **{k: len(v) for k, v in today.items()}}
    summary["orders_updated"] = update_orders(world_dir, rng, t0, ctx, out)
    gone = gone_today(today)
    for vendor, resource in PEOPLE_RESOURCES:
        new = out.record_table((vendor, resource))
        summary[f"{vendor}.{resource}"] = new.num_rows
        merge_resource(world_dir, vendor, resource, new, drop=gone.get((vendor, resource), set()))
    for resource, rows in archived.items():
        merge_resource(world_dir, "hubspot", f"archived_{resource}", records_table(rows))
    removed = {(*TRUTH_TYPES[key], record_id) for key, ids in gone.items() if key in TRUTH_TYPES for record_id in ids
               if not (key == ("hubspot", "contacts") and record_id in today["contacts_merged"])}
    replace_truth_rows(sandbox, out, newcomers, removed)
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


def merge_resource(world_dir: Path, vendor: str, resource: str, new: pa.Table, drop: set[str] = frozenset()) -> None:
    """Replace records with the same id, append the rest, remove the `drop` ids (deleted, merged or archived
    at the vendor), keep the file ordered by creation."""
    path = world_dir / vendor / f"{resource}.parquet"
    if new.num_rows == 0 and not drop:
        return
    new = new.cast(RECORD_SCHEMA)
    if path.exists():
        old = pq.read_table(path).cast(RECORD_SCHEMA)
        gone = pa.concat_arrays([new["id"].combine_chunks(), pa.array(sorted(drop), pa.string())])
        old = old.filter(pc.invert(pc.is_in(old["id"], value_set=gone)))
        new = pa.concat_tables([old, new])
    write_resource(world_dir, vendor, resource, new.sort_by([("created_at", "ascending"), ("id", "ascending")]))


def replace_truth_rows(sandbox: Path, out: Emitter, newcomers: list[dict],
                       removed: set[tuple[str, str, str]] = frozenset()) -> None:
    """Swap in the truth rows of the records rendered today; drop those of `removed` (source, record_type,
    record_id): records deleted or archived at the vendor are no longer records the pipeline can see."""
    new_ids, new_gt = out.identifier_table(), out.ground_truth_table()

    def keys(table: pa.Table) -> pa.Array:
        # Ids are unique per (source, record type) only: a Klaviyo id may equal a HubSpot one.
        return pc.binary_join_element_wise(table["source"], table["record_type"], table["record_id"], "/")

    replaced = keys(new_gt)
    gone_keys = pa.array(sorted(f"{s}/{t}/{r}" for s, t, r in removed), pa.string())
    for name, new in (("record_identifiers", new_ids), ("entity_truth", new_gt)):
        path = sandbox / f"{name}.parquet"
        old = pq.read_table(path)
        key = keys(old)
        keep = pc.invert(pc.and_(pc.is_in(key, value_set=replaced), pc.not_equal(old["record_type"], "device")))
        if removed:
            keep = pc.and_(keep, pc.invert(pc.is_in(key, value_set=gone_keys)))
        pq.write_table(pa.concat_tables([old.filter(keep), new.cast(old.schema)]), path)
    devices = [(d["id"], p["person_id"], "shared_with" in d) for p in newcomers for d in p["devices"]]
    if devices:
        path = sandbox / "devices.parquet"
        new = pa.table(list(map(list, zip(*devices, strict=True))), schema=DEVICE_SCHEMA)
        pq.write_table(pa.concat_tables([pq.read_table(path), new]), path)


# -- the vendors' own deletions and merges -----------------------------------------------------------


def empty_ledger() -> dict:
    """What the vendors have deleted, merged, archived or suppressed so far: id -> when (epoch seconds);
    merged: duplicate id -> survivor id."""
    return {"merged": {}, "archived_contacts": {}, "archived_deals": {}, "deleted_customers": {},
            "deleted_profiles": {}, "suppressed_profiles": {}}


def vendor_changes(people: list[dict], ledger: dict, rng: np.random.Generator, t0: int) -> dict[str, dict]:
    """Choose the day's merges, archivals, deletions and suppressions, record them in the ledger and in the
    people's state, and return today's: {kind: {id: when}} (contacts_merged: id -> survivor id)."""
    def sample(items: list, share: float) -> list:
        k = min(len(items), math.ceil(len(items) * share))
        return [items[i] for i in sorted(rng.choice(len(items), k, replace=False))] if k else []

    when = lambda: t0 + int(rng.uniform(8, 18) * 3600)  # noqa: E731 - office hours
    gone = lambda p: p["dropout_at"] < t0  # noqa: E731 - a person who has left: nothing of theirs happens again
    merged = set(ledger["merged"])
    archived_contacts, archived_deals = set(ledger["archived_contacts"]), set(ledger["archived_deals"])
    today: dict[str, dict] = {"contacts_merged": {}, "contacts_archived": {}, "deals_archived": {},
                              "customers_deleted": {}, "profiles_deleted": {}, "profiles_suppressed": {}}
    # A sales team merges a duplicate into the person's first contact (the one engagements are logged on).
    duplicates = [(p, c) for p in people for c in p["contacts"][1:]
                  if c["created"] < t0 and p["contacts"][0]["created"] < t0 and c["id"] not in merged
                  and c["id"] not in archived_contacts and p["contacts"][0]["id"] not in archived_contacts]
    for p, duplicate in sample(duplicates, MERGE_SHARE):
        survivor, t = p["contacts"][0], when()
        p["contacts"].remove(duplicate)
        p.setdefault("merged_contacts", []).append({**duplicate, "merged_into": survivor["id"], "merged_at": t})
        survivor["merged_ids"] = [*survivor.get("merged_ids", []), duplicate["id"]]
        survivor["updated"] = max(survivor["updated"], t)
        ledger["merged"][duplicate["id"]] = today["contacts_merged"][duplicate["id"]] = survivor["id"]

    def finished(deal: dict) -> bool:
        return max([deal["path"][-1]["t"] if deal["path"] else deal["created"],
                    *(e["t"] for e in deal.get("engagements") or [])]) < t0

    # Archived: the contacts of people who have left once their deals are over, and finished deals.
    contacts = [(p, c) for p in people if gone(p) and all(finished(d) for d in p["deals"])
                for c in p["contacts"] if c["created"] < t0 and c["id"] not in archived_contacts]
    for _, contact in sample(contacts, ARCHIVE_SHARE):
        t = when()
        contact["updated"] = max(contact["updated"], t)
        ledger["archived_contacts"][contact["id"]] = today["contacts_archived"][contact["id"]] = t
    deals = [d for p in people for d in p["deals"] if d["id"] not in archived_deals and finished(d)]
    for deal in sample(deals, ARCHIVE_SHARE):
        t = when()
        deal["updated"] = max(deal["updated"], t)
        ledger["archived_deals"][deal["id"]] = today["deals_archived"][deal["id"]] = t
    customers = [p for p in people if p["customer_id"] is not None and p["customer_created"] < t0 and gone(p)
                 and not p["orders"] and str(p["customer_id"]) not in ledger["deleted_customers"]]
    for p in sample(customers, DELETE_SHARE):
        ledger["deleted_customers"][str(p["customer_id"])] = today["customers_deleted"][str(p["customer_id"])] = when()
    deleted, suppressed = ledger["deleted_profiles"], ledger["suppressed_profiles"]
    profiles = [p for p in people if p["profile_id"] is not None and p["profile_created"] < t0 and gone(p)
                and p["profile_id"] not in deleted]
    for p in sample(profiles, DELETE_SHARE):
        deleted[p["profile_id"]] = today["profiles_deleted"][p["profile_id"]] = when()
    profiles = [p for p in people if p["profile_id"] is not None and p["profile_created"] < t0
                and p["profile_id"] not in deleted and p["profile_id"] not in suppressed]
    for p in sample(profiles, SUPPRESS_SHARE):
        t = when()
        p["profile_updated"] = max(p["profile_updated"], t)
        suppressed[p["profile_id"]] = today["profiles_suppressed"][p["profile_id"]] = t
    return today


def gone_today(today: dict[str, dict]) -> dict[tuple[str, str], set[str]]:
    """The ids to take out of each resource file today."""
    return {("hubspot", "contacts"): set(today["contacts_merged"]) | set(today["contacts_archived"]),
            ("hubspot", "deals"): set(today["deals_archived"]),
            ("shopify", "customers"): set(today["customers_deleted"]),
            ("klaviyo", "profiles"): set(today["profiles_deleted"])}


def apply_ledger(out: Emitter, ledger: dict, today: dict[str, dict]) -> dict[str, list[tuple]]:
    """Make the day's rendered records agree with the ledger, in place, and return the records archived today
    (resource -> rows for `archived_<resource>.parquet`).

    A merged, archived or deleted record is never served again by the normal listings, however often its
    person is rendered; survivors carry `hs_merged_object_ids`; suppressed profiles carry their suppression.
    Records and truth rows of records taken out leave the emitter.
    """
    merged_into: dict[str, list[str]] = {}
    for duplicate, survivor in ledger["merged"].items():
        merged_into.setdefault(survivor, []).append(duplicate)
    out_of_listings = {
        ("hubspot", "contacts"): set(ledger["merged"]) | set(ledger["archived_contacts"]),
        ("hubspot", "deals"): set(ledger["archived_deals"]),
        ("shopify", "customers"): set(ledger["deleted_customers"]),
        ("klaviyo", "profiles"): set(ledger["deleted_profiles"]),
    }
    archived_at = {"contacts": today["contacts_archived"], "deals": today["deals_archived"]}
    archived: dict[str, list[tuple]] = {"contacts": [], "deals": []}
    for (vendor, resource), rows in out.records.items():
        drop = out_of_listings.get((vendor, resource), set())
        kept = []
        for record_id, created, updated, text in rows:
            if record_id in drop:
                when = archived_at.get(resource, {}).get(record_id) if vendor == "hubspot" else None
                if when is not None:
                    body = json.loads(text)
                    body |= {"archived": True, "archivedAt": hubspot_time(when), "updatedAt": hubspot_time(when)}
                    archived[resource].append((record_id, datetime.fromtimestamp(created, UTC),
                                               datetime.fromtimestamp(when, UTC), body))
                continue
            if vendor == "hubspot":
                text = _hubspot_merges(resource, record_id, text, merged_into, ledger["merged"])
            elif (vendor, resource) == ("klaviyo", "profiles") and record_id in ledger["suppressed_profiles"]:
                text = _suppressed(text, ledger["suppressed_profiles"][record_id])
            elif (vendor, resource) == ("klaviyo", "events") and ledger["deleted_profiles"]:
                # A deleted profile's events go with it; the simulation may still send a lapsed person mail.
                if json.loads(text)["relationships"]["profile"]["data"]["id"] in ledger["deleted_profiles"]:
                    continue
            kept.append((record_id, created, updated, text))
        rows[:] = kept
    hidden = {(*TRUTH_TYPES[key], record_id) for key, ids in out_of_listings.items() if key in TRUTH_TYPES
              for record_id in ids if record_id not in ledger["merged"]}
    out.ground_truth[:] = [row for row in out.ground_truth if tuple(row[:3]) not in hidden]
    out.identifiers[:] = [row for row in out.identifiers if tuple(row[:3]) not in hidden]
    return archived


def _hubspot_merges(resource: str, record_id: str, text: str, merged_into: dict[str, list[str]],
                    merged: dict[str, str]) -> str:
    """A survivor lists the ids merged into it; associations to a merged contact point at its survivor."""
    if resource == "contacts" and record_id in merged_into:
        body = json.loads(text)
        body["properties"]["hs_merged_object_ids"] = ";".join(sorted(merged_into[record_id], key=int))
        return json.dumps(body, separators=(",", ":"))
    # Deals list all their person's contacts: a deal rendered from an older state is pointed at the survivor.
    if resource == "deals" and merged:
        body = json.loads(text)
        links = ((body.get("associations") or {}).get("contacts") or {}).get("results") or []
        seen, remapped = set(), []
        for link in links:
            target = merged.get(link["id"], link["id"])
            if target not in seen:
                seen.add(target)
                remapped.append({**link, "id": target})
        if links:
            body["associations"]["contacts"]["results"] = remapped
        return json.dumps(body, separators=(",", ":"))
    return text


def _suppressed(text: str, when: int) -> str:
    """Klaviyo's suppression: the profile stays, and email marketing can no longer reach it."""
    body = json.loads(text)
    marketing = body["attributes"]["subscriptions"]["email"]["marketing"]
    marketing["can_receive_email_marketing"] = False
    marketing["suppression"] = [{"reason": "USER_SUPPRESSED", "timestamp": klaviyo_time(when)}]
    return json.dumps(body, separators=(",", ":"))
