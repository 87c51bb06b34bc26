"""Every source against every fault of the sandbox, on the small world, then a clean rerun.

For each source:
- one full load meets every fault a connector must survive (throttling bursts and sustained, 500/502/503,
  an answer slower than the client's timeout, a connection dropped mid-body, a truncated body, a page that
  repeats its cursor, a new field, a nested object; for Shopify an expired token it refreshes). The run
  completes, the warehouse equals the emulators' data, and the new fields are reported as schema changes.
  A rerun then costs exactly what a run with nothing to do costs: the cursors advanced.
- each fault that must stop a run (expired credentials, a type change under a frozen contract) stops it
  part-way with an error naming the setting, or the table and column; a clean rerun then loads exactly the
  emulators' data with fewer requests than a full load, because the committed part is not read again.

Client timeouts, backoff and pacing are settings, turned down here so the matrix runs in seconds per case.
"""

from __future__ import annotations

import json

import duckdb
import httpx
import pytest

from cdp.paths import warehouse_path
from ingestion.http import SchemaDriftError, SourceConfigurationError
from ingestion.pipeline import run_source
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers import reconcile as reconciling

pytestmark = pytest.mark.slow

# The paged endpoint of each vendor where cursors repeat and records drift.
PAGED = {
    "hubspot": "/crm/v3/objects/contacts/search",
    "shopify": "/admin/api/*/orders.json",
    "mixpanel": "/api/2.0/export",
    "klaviyo": "/api/profiles/",
    "meta": "/*/act_*/insights",
}
# Where a new field and a nested object appear inside each record.
NEW_FIELD = {
    "hubspot": ("properties.sandbox_new_field", "properties.sandbox_nested"),
    "shopify": ("sandbox_new_field", "sandbox_nested"),
    "mixpanel": ("properties.sandbox_new_field", "properties.sandbox_nested"),
    "klaviyo": ("attributes.sandbox_new_field", "attributes.sandbox_nested"),
    "meta": ("sandbox_new_field", "sandbox_nested"),
}
# Mixpanel keeps every property it does not type in one JSON column: new fields add no column.
SCHEMA_CHANGE_EXPECTED = {"hubspot": "sandbox_new_field", "shopify": "sandbox_new_field",
                          "klaviyo": "sandbox_new_field", "meta": "sandbox_new_field"}  # fmt: skip
# A field whose type changes, on a resource read after others have committed (`skip` hits a later page).
TYPE_CHANGE = {
    "hubspot": {"path": "/crm/v3/objects/deals/search", "field": "createdAt", "skip": 1},
    "shopify": {"path": "/admin/api/*/orders.json", "field": "location_id", "skip": 0},
    "mixpanel": {"path": "/api/2.0/export", "field": "properties.time", "skip": 1},
    "klaviyo": {"path": "/api/events/", "field": "attributes.timestamp", "skip": 0},
    "meta": {"path": "/*/act_*/insights", "field": "impressions", "skip": 2},
}
TYPE_CHANGE_NAMES = {"hubspot": "hubspot.deals, column createdAt", "shopify": "shopify.orders",
                     "mixpanel": "mixpanel.events, column time", "klaviyo": "klaviyo.events",
                     "meta": "meta.insights, column impressions"}  # fmt: skip
# Expired credentials on a resource read after others have committed. Shopify refreshes a token once, so
# only a token refused again and again stops it.
EXPIRED = {
    "hubspot": {"path": "/crm/v3/objects/deals/search", "skip": 1, "times": 1},
    "shopify": {"path": "/admin/api/*/orders.json", "skip": 0, "times": 0},
    "mixpanel": {"path": "/api/2.0/export", "skip": 1, "times": 1},
    "klaviyo": {"path": "/api/events/", "skip": 0, "times": 1},
    "meta": {"path": "/*/*/leads", "skip": 0, "times": 1},
}
SETTING_NAMED = {"hubspot": "sources.hubspot.access_token", "shopify": "sources.shopify.client_secret",
                 "mixpanel": "sources.mixpanel.username", "klaviyo": "sources.klaviyo.api_key",
                 "meta": "sources.meta.access_token"}  # fmt: skip


def survivable_faults(vendor: str) -> list[dict]:
    new_field, nested = NEW_FIELD[vendor]
    faults = [
        {"kind": "throttle", "skip": 1, "times": 2, "retry_after": 0.1},  # a burst
        {"kind": "throttle", "skip": 3, "times": 4, "retry_after": 0.1},  # sustained
        {"kind": "error", "status": 500, "skip": 5},
        {"kind": "error", "status": 502, "skip": 6},
        {"kind": "error", "status": 503, "skip": 7},
        {"kind": "slow", "seconds": 6, "skip": 8},  # beyond the client's 5 s timeout
        {"kind": "drop", "skip": 9},
        {"kind": "truncate", "skip": 10},
        {"kind": "repeat_cursor", "path": PAGED[vendor]},
        {"kind": "drift", "change": "new_field", "field": new_field, "path": PAGED[vendor]},
        {"kind": "drift", "change": "nested_object", "field": nested, "path": PAGED[vendor], "skip": 1},
    ]
    if vendor == "meta":
        # Meta's throttling: HTTP 400 with a code in the body; the same request also meets the others above.
        faults[0].update(code=17)
        faults[1].update(code=80004)
    if vendor == "shopify":
        faults.append({"kind": "expired_credentials", "skip": 11})
    return [{"vendor": vendor, **fault} for fault in faults]


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    from sandbox.world.generate import generate_world

    sandbox = tmp_path_factory.mktemp("fault_matrix")
    world = generate_world(sandbox / "world", size="small", seed=7, progress=lambda _: None)
    return sandbox / "world", world


@pytest.fixture()
def sandbox(small_world, monkeypatch):
    world_dir, world = small_world
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        for key, value in dlt_environment(json.loads((world_dir / "world.json").read_text()), base).items():
            monkeypatch.setenv(key, value)
        # The world's clock, whatever CDP_HOME a case uses; fast settings so each fault costs a fraction of a second.
        monkeypatch.setenv("CDP_AS_OF", json.loads((world_dir / "world.json").read_text())["as_of"])
        # 5 s: far above a normal answer even on a busy machine, which could otherwise time one out and retry it.
        monkeypatch.setenv("SOURCES__HTTP_TIMEOUT", "5")
        monkeypatch.setenv("SOURCES__HTTP_BACKOFF_SECONDS", "0.05")
        monkeypatch.setenv("SOURCES__HTTP_MAX_WAIT_SECONDS", "5")
        monkeypatch.setenv("SOURCES__REQUESTS_PER_SECOND", "0")
        yield base


def fresh_home(tmp_path, monkeypatch, name: str) -> None:
    """An empty warehouse and pipeline state: each case starts from a first run."""
    monkeypatch.setenv("CDP_HOME", str(tmp_path / name))


def set_faults(base: str, faults: list[dict]) -> None:
    httpx.delete(f"{base}/_sandbox/faults")
    answer = httpx.post(f"{base}/_sandbox/faults", json={"faults": faults})
    assert answer.status_code == 200, answer.text


def fired(base: str) -> list[dict]:
    return httpx.get(f"{base}/_sandbox/faults").json()["faults"]


def vendor_requests(base: str, vendor: str) -> int:
    log = httpx.get(f"{base}/_sandbox/requests").json()["requests"]
    return sum(entry["count"] for entry in log if entry["vendor"] == vendor)


def needed(report) -> int:
    """Requests a run needed: every request the client made, less its retries of the same request."""
    return report.requests["requests"] - report.requests.get("retries", 0)


def reset_requests(base: str) -> None:
    httpx.delete(f"{base}/_sandbox/requests")


def new_columns(vendor: str, name: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        return con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = ? and column_name like ?",
            [vendor, f"%{name}%"],
        ).fetchall()


def reconcile_vendor(world_dir, vendor: str) -> list[reconciling.Difference]:
    """tests/helpers/reconcile.py's comparison, for one vendor's tables (the others are not loaded here)."""
    con = duckdb.connect(str(warehouse_path()), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        if vendor == "mixpanel":
            return [reconciling._compare_events(con, world_dir)]
        return [
            reconciling._compare(con, world_dir, v, resource, *exprs)
            for (v, resource), exprs in reconciling.KEYS.items()
            if v == vendor
        ]
    finally:
        con.close()


def assert_exact(world_dir, vendor: str) -> None:
    differences = reconcile_vendor(world_dir, vendor)
    assert all(d.exact for d in differences), reconciling.describe(differences)
    assert all(d.warehouse_rows for d in differences if d.store_rows), [d for d in differences if not d.warehouse_rows]


@pytest.mark.parametrize("vendor", ["hubspot", "shopify", "mixpanel", "klaviyo", "meta"])
def test_a_source_survives_every_fault_then_reruns_incrementally(vendor, sandbox, small_world, tmp_path, monkeypatch):
    world_dir, _ = small_world

    # 1. One first load through every survivable fault.
    fresh_home(tmp_path, monkeypatch, "survivable")
    set_faults(sandbox, survivable_faults(vendor))
    report = run_source(vendor)
    rules = fired(sandbox)
    not_fired = [r for r in rules if not r["fired"] and not (vendor == "mixpanel" and r["kind"] == "repeat_cursor")]
    assert not not_fired, f"faults that never hit a request: {not_fired}"
    assert report.requests.get("retries", 0) >= 10, report.requests
    full_load_requests = needed(report)
    assert_exact(world_dir, vendor)
    if vendor in SCHEMA_CHANGE_EXPECTED:
        # The contracts let new fields in (evolve): the drifted pages loaded, their new columns with them.
        assert new_columns(vendor, SCHEMA_CHANGE_EXPECTED[vendor]), f"no column for the new field in {vendor}"

    # 2. A clean rerun costs what a run with nothing to do costs, and changes nothing. Counted by the sandbox,
    # less the client's retries (a busy machine can still time out an answer).
    set_faults(sandbox, [])
    reset_requests(sandbox)
    rerun = run_source(vendor)
    rerun_requests = vendor_requests(sandbox, vendor) - rerun.requests.get("retries", 0)
    reset_requests(sandbox)
    again = run_source(vendor)
    assert rerun_requests == vendor_requests(sandbox, vendor) - again.requests.get("retries", 0) < full_load_requests
    assert_exact(world_dir, vendor)

    # 3. Faults that must stop the run: it stops part-way, names what to fix, and the rerun resumes.
    expired = {"vendor": vendor, "kind": "expired_credentials", **EXPIRED[vendor]}
    drifted = {"vendor": vendor, "kind": "drift", "change": "type_change", **TYPE_CHANGE[vendor]}
    for case, fault, error, message in (
        ("expired", expired, SourceConfigurationError, SETTING_NAMED[vendor]),
        ("type_change", drifted, SchemaDriftError, TYPE_CHANGE_NAMES[vendor]),
    ):
        fresh_home(tmp_path, monkeypatch, case)
        set_faults(sandbox, [fault])
        with pytest.raises(error, match=message.replace(".", r"\.")) as raised:
            run_source(vendor)
        assert "What to do" in str(raised.value) or "Check" in str(raised.value)
        assert fired(sandbox)[0]["fired"] >= 1
        set_faults(sandbox, [])
        rerun = run_source(vendor)
        assert_exact(world_dir, vendor)
        if vendor == "meta" and case == "type_change":
            # Insights, the one large Meta resource, is where the type changes: the violation is found when
            # dlt normalizes, after the whole resource was read, so its rerun reads it all again.
            assert needed(rerun) <= full_load_requests
        else:
            assert needed(rerun) < full_load_requests, case
