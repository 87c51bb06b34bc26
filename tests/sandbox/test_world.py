"""The synthetic world on the tiny size (seed 7): determinism, shapes, rates, truth, advance."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sandbox.world.advance import advance_world
from sandbox.world.generate import generate_world
from sandbox.world.people import loyalty_number
from sandbox.world.stats import world_stats
from sandbox.world.truth import linkable_records, true_purchase_probability

QUIET = lambda _: None  # noqa: E731


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    world_dir = tmp_path_factory.mktemp("tiny") / "world"
    generate_world(world_dir, "tiny", 7, progress=QUIET)
    return world_dir


def content_digest(world_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(world_dir.rglob("*")):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            digest.update(path.name.encode() + json.dumps(table.to_pylist(), default=str).encode())
        elif path.name.endswith(".gz"):
            digest.update(path.name.encode() + gzip.decompress(path.read_bytes()))
    return digest.hexdigest()


def test_same_seed_gives_identical_records(world, tmp_path):
    generate_world(tmp_path / "world", "tiny", 7, progress=QUIET)
    assert content_digest(tmp_path / "world") == content_digest(world)


def test_world_json_has_credentials_in_the_expected_keys(world):
    meta = json.loads((world / "world.json").read_text())
    creds = meta["credentials"]
    assert creds["klaviyo"]["api_key"].startswith("pk_")
    assert creds["meta"]["ad_account_id"].isdigit() and creds["meta"]["page_id"].isdigit()
    assert set(creds["shopify"]) == {"access_token", "client_id", "client_secret", "shop"}
    assert meta["as_of"] == "2026-10-01T00:00:00+00:00"


def test_bodies_have_the_vendor_fields(world):
    contact = json.loads(pq.read_table(world / "hubspot/contacts.parquet")["body"][0].as_py())
    assert all(v is None or isinstance(v, str) for v in contact["properties"].values())
    order = json.loads(pq.read_table(world / "shopify/orders.parquet")["body"][0].as_py())
    assert isinstance(order["total_price"], str) and order["source_name"] in ("web", "pos", "iphone", "android")
    profile = json.loads(pq.read_table(world / "klaviyo/profiles.parquet")["body"][0].as_py())
    assert profile["type"] == "profile" and "subscriptions" in profile["attributes"]
    phones = [json.loads(b)["attributes"]["phone_number"] for b in
              pq.read_table(world / "klaviyo/profiles.parquet")["body"].to_pylist()]
    assert all(p is None or p.startswith("+") for p in phones)
    line = gzip.decompress(next((world / "mixpanel/events").glob("*.gz")).read_bytes()).splitlines()[0]
    props = json.loads(line)["properties"]
    assert {"time", "distinct_id", "$insert_id", "$device_id", "mp_lib"} <= set(props)


def test_truth_is_one_to_one_with_served_entity_records(world):
    truth = pq.read_table(world.parent / "ground_truth.parquet").to_pylist()
    keys = [(r["source"], r["record_type"], r["record_id"]) for r in truth]
    assert len(keys) == len(set(keys))
    served = set()
    for vendor, resource, kind in (("hubspot", "contacts", "contact"), ("shopify", "customers", "customer"),
                                   ("shopify", "orders", "order"), ("klaviyo", "profiles", "profile"),
                                   ("meta", "leads", "lead")):
        served |= {(vendor, kind, i) for i in pq.read_table(world / vendor / f"{resource}.parquet")["id"].to_pylist()}
    for path in (world / "mixpanel/events").glob("*.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            served.add(("mixpanel", "device", json.loads(line)["properties"]["$device_id"]))
    assert served == set(keys)


def test_linkable_follows_personal_identifiers_transitively():
    # records 0-1 share a personal email, 1-2 a personal phone; 3 shares only a junk value with 0; 4 is another
    # person who shares a (personal-marked) value with nobody of theirs.
    record_of_row = np.array([0, 1, 1, 2, 3, 0, 4])
    value_of_row = np.array([0, 0, 1, 1, 2, 2, 3])
    personal = np.array([True, True, True, True, False, False, True])
    person_of_record = np.array([0, 0, 0, 0, 1])
    assert linkable_records(record_of_row, value_of_row, personal, person_of_record).tolist() == [
        True, True, True, False, False]


def test_loyalty_numbers_are_never_shared():
    # Loyalty numbers are issued one per member: never shared, even across the serials of a large world.
    serials = np.arange(1, 2_000_001)
    assert len({loyalty_number(int(s)) for s in serials}) == len(serials)


def test_tiny_world_figures_are_pinned(world):
    truth = pq.read_table(world.parent / "ground_truth.parquet")
    assert truth.num_rows == 1299
    assert sum(truth["linkable"].to_pylist()) == 856


def test_rates_are_near_their_targets(world):
    rows = {r["metric"]: r for r in world_stats(world)}
    for row in rows.values():
        tolerance = max(0.5 * row["target"], 0.01)
        if "at most" in row["metric"]:
            assert row["actual"] <= row["target"]
        else:
            assert abs(row["actual"] - row["target"]) <= tolerance, row


def test_true_purchase_probability_is_zero_after_dropout(world):
    truth = pq.read_table(world.parent / "person_truth.parquet")
    from datetime import UTC, datetime

    p = true_purchase_probability(truth, datetime(2026, 10, 1, tzinfo=UTC), 90)
    dropped = truth["dropout_at"].cast("int64").to_numpy() / 1e6 <= datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    assert np.all(p[dropped] == 0) and np.all((p[~dropped] > 0) & (p[~dropped] < 1))


def test_advance_updates_adds_and_delivers_late_events(tmp_path):
    world_dir = tmp_path / "world"
    generate_world(world_dir, "tiny", 7, progress=QUIET)
    contacts = pq.read_table(world_dir / "hubspot/contacts.parquet").num_rows
    pending_before = pq.read_table(world_dir / "mixpanel/pending.parquet").num_rows
    summary = advance_world(world_dir, 1, progress=QUIET)
    changed = summary["changed"]
    assert changed["contacts_updated"] >= 0.01 * contacts
    assert changed["orders_updated"] >= 1 and changed["profiles_updated"] >= 1 and changed["deals_updated"] >= 1
    assert changed["events_added"] > 0
    assert pending_before > 0 and changed["late_events_delivered"] >= 0
    assert json.loads((world_dir / "world.json").read_text())["as_of"] == "2026-10-02T00:00:00+00:00"
    updated = pq.read_table(world_dir / "shopify/orders.parquet")["updated_at"].to_pylist()
    assert any(u.isoformat() >= "2026-10-01" for u in updated)
    truth = pq.read_table(world_dir.parent / "ground_truth.parquet")
    keys = [(r["source"], r["record_type"], r["record_id"]) for r in truth.to_pylist()]
    assert len(keys) == len(set(keys))
