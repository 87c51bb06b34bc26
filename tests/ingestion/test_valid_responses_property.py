"""Property: whatever a vendor's contract allows, every source loads it and staging builds on it.

Hypothesis takes real records of every resource of the five vendors (the tiny world's) and rewrites them the
ways a valid account differs from our sandbox: optional fields dropped or null, lists empty, extra custom
fields, enum values the code has never seen, resources with no records at all. The emulators serve them with
the vendors' contracts; each source loads them and `dbt build --select staging` (models and their data
tests) must pass. Identifiers, cursors and the fields the vendors always send are kept, so every example is a
response the vendor could really give.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp import paths
from ingestion.pipeline import SOURCE_NAMES, run_source
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from sandbox.world.store import write_resource, write_world_json
from tests.helpers.dbt import build

pytestmark = pytest.mark.slow

RESOURCES = {
    "hubspot": ("contacts", "companies", "deals", "calls", "meetings", "tasks", "owners", "pipelines"),
    "shopify": ("customers", "orders", "products", "checkouts"),
    "klaviyo": ("profiles", "lists", "metrics", "campaigns", "events"),
    "meta": ("campaigns", "insights", "leadgen_forms", "leads"),
}

# Always sent by the vendor (ids, names, cursors, the fields a record cannot exist without): never dropped.
ALWAYS_SENT = {
    "id", "type", "createdAt", "updatedAt", "archived", "created_at", "updated_at", "created_time", "updated_time",
    "properties.hs_object_id", "properties.createdate", "properties.lastmodifieddate", "properties.hs_createdate",
    "properties.hs_lastmodifieddate", "label", "displayOrder", "stages", "stages[].id", "stages[].label",
    "stages[].displayOrder", "name", "title", "token", "line_items", "line_items[].id", "variants", "variants[].id",
    "refunds[].id", "refunds[].created_at", "refunds[].refund_line_items[].id", "refunds[].transactions[].id",
    "attributes", "attributes.created", "attributes.updated", "attributes.datetime", "attributes.timestamp",
    "attributes.created_at", "attributes.updated_at", "attributes.name", "attributes.uuid", "relationships",
    "relationships.profile", "relationships.profile.data", "relationships.profile.data.id",
    "relationships.profile.data.type", "relationships.metric", "relationships.metric.data",
    "relationships.metric.data.id", "relationships.metric.data.type", "campaign_id", "date_start", "date_stop",
    "form_id", "page_id", "event", "properties", "properties.time", "properties.distinct_id",
    "properties.$insert_id",
}
# Values the vendor documents as open sets (portal- or app-defined): an unseen one must not break anything.
OPEN_ENUMS = {
    "source_name", "financial_status", "fulfillment_status", "state", "email_marketing_consent.state",
    "properties.lifecyclestage", "properties.dealstage", "properties.hs_task_status", "properties.hs_call_status",
    "attributes.status", "status", "objective", "actions[].action_type",
    "attributes.subscriptions.email.marketing.consent",
}


@st.composite
def account_variant(draw, value, path: str = ""):
    """A contract-valid variant of one record (or part of it)."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if child in ALWAYS_SENT:
                result[key] = draw(account_variant(item, child))
                continue
            choice = draw(st.sampled_from(["keep", "keep", "drop", "null", "vary"]))
            if choice == "keep":
                result[key] = item
            elif choice == "null":
                result[key] = None
            elif choice == "vary":
                result[key] = draw(account_variant(item, child))
        if draw(st.booleans()):
            # A custom field, typed by its name as an account's own fields are.
            result[f"custom_{draw(st.sampled_from(['text', 'flag', 'note']))}"] = draw(st.sampled_from(
                ["", "Gold tier", "ä ö ü 🛋"]))
        return result
    if isinstance(value, list):
        if path not in ALWAYS_SENT and draw(st.booleans()):
            return []
        return [draw(account_variant(item, f"{path}[]")) for item in value]
    if isinstance(value, str) and path in OPEN_ENUMS and draw(st.booleans()):
        return draw(st.sampled_from(["unexpected_value", "83712345", "CUSTOM_STAGE"]))
    return value


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict:
    """A few real records of every resource, and a day of analytics events, from the tiny world."""
    from sandbox.world.generate import generate_world

    world_dir = tmp_path_factory.mktemp("template") / "world"
    world = generate_world(world_dir, size="tiny", seed=7, progress=lambda _: None)
    records = {}
    for vendor, resources in RESOURCES.items():
        for resource in resources:
            table = pq.read_table(world_dir / vendor / f"{resource}.parquet").slice(0, 3)
            records[(vendor, resource)] = [
                (row["id"], row["created_at"], row["updated_at"], json.loads(row["body"])) for row in table.to_pylist()
            ]
    day_file = sorted((world_dir / "mixpanel" / "events").glob("*.ndjson.gz"))[-1]
    lines = gzip.decompress(day_file.read_bytes()).decode().splitlines()[:6]
    return {"world": world, "records": records, "events": (day_file.name, [json.loads(line) for line in lines])}


@st.composite
def accounts(draw, templates: dict) -> dict:
    records = {}
    for key, rows in templates["records"].items():
        kept = draw(st.lists(st.sampled_from(rows), max_size=len(rows), unique_by=lambda row: row[0]))
        records[key] = [(rid, created, updated, draw(account_variant(body))) for rid, created, updated, body in kept]
    day, lines = templates["events"]
    events = [draw(account_variant(line)) for line in draw(st.lists(st.sampled_from(lines), min_size=1,
                                                                    max_size=len(lines), unique_by=json.dumps))]
    return {"records": records, "events": (day, events)}


def write_account(world_dir: Path, world: dict, account: dict) -> None:
    from sandbox.world.store import records_table

    write_world_json(world_dir, world)
    for (vendor, resource), rows in account["records"].items():
        write_resource(world_dir, vendor, resource, records_table(rows))
    day, events = account["events"]
    folder = world_dir / "mixpanel" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / day).write_bytes(gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode()))


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_every_source_loads_any_contract_valid_account_and_staging_builds_on_it(data, templates, monkeypatch):
    account = data.draw(accounts(templates))
    with tempfile.TemporaryDirectory(prefix="account-") as scratch:
        home = Path(scratch) / "home"
        monkeypatch.setenv("CDP_HOME", str(home))
        monkeypatch.setenv("CDP_AS_OF", templates["world"]["as_of"])
        write_account(paths.world_dir(), templates["world"], account)
        with sandbox_in_thread(paths.world_dir(), Limits(enabled=False)) as base_url:
            for key, value in dlt_environment(templates["world"], base_url).items():
                monkeypatch.setenv(key, value)
            for source in SOURCE_NAMES:
                run_source(source)
        result = build("staging", Path(scratch), monkeypatch)
        failures = [f"{r.node.name}: {r.message}" for r in (result.result or []) if r.status not in ("success", "pass")]
        assert result.success and not failures, failures or result.exception
