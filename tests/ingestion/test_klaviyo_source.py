"""The Klaviyo source against the emulator: exact loads, incremental runs that fetch only the change."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import httpx
import pytest

from cdp.paths import warehouse_path
from ingestion.pipeline import make_pipeline, source_factory
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.emulators.store import WorldStore
from sandbox.server import sandbox_in_thread
from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import add_records
from tests.sandbox.test_klaviyo_emulator import T0, campaign, event, profile, small_world

RESOURCES = ("profiles", "lists", "metrics", "campaigns", "events")


@pytest.fixture
def klaviyo_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))
    world_dir = small_world(tmp_path / "world")
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        for key, value in dlt_environment(json.loads((world_dir / "world.json").read_text()), base).items():
            monkeypatch.setenv(key, value)
        yield base, world_dir


def run_klaviyo():
    pipeline = make_pipeline("klaviyo")
    pipeline.run(source_factory("klaviyo")())
    return pipeline.last_trace.last_normalize_info.row_counts


def warehouse_rows(table: str, columns: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        return con.execute(f"select {columns} from klaviyo.{table} order by all").fetchall()


def store_rows(world_dir, resource: str) -> list[tuple]:
    """What the vendor holds: (id, last-modified time) per record."""
    return WorldStore(world_dir).query("klaviyo", resource, "select id, updated_at from records order by all")


def assert_warehouse_equals_store(world_dir) -> None:
    modified = {
        "profiles": "attributes__updated",
        "lists": "attributes__updated",
        "metrics": "attributes__updated",
        "campaigns": "attributes__updated_at",
        "events": "attributes__datetime",
    }
    for resource in RESOURCES:
        assert warehouse_rows(resource, f"id, {modified[resource]}") == store_rows(world_dir, resource), (
            resource
        )


def requests_by_route(base: str) -> dict[str, int]:
    log = httpx.get(f"{base}/_sandbox/requests").json()["requests"]
    return {row["route"]: row["count"] for row in log if row["vendor"] == "klaviyo"}


@pytest.mark.slow
def test_loads_exactly_the_store_then_only_what_changed(klaviyo_sandbox, monkeypatch):
    base, world_dir = klaviyo_sandbox

    run_klaviyo()
    assert_warehouse_equals_store(world_dir)
    assert len(warehouse_rows("profiles", "id")) == 25
    # Subscriptions were asked for, and custom properties kept whole.
    assert warehouse_rows("profiles", "count(attributes__subscriptions__email__marketing__consent)") == [
        (25,)
    ]
    assert warehouse_rows("profiles", "attributes__properties->>'$.loyalty_number'")[0] == ("LOY000000",)

    # Nothing changed at the vendor: nothing new lands, and each resource costs one request.
    httpx.delete(f"{base}/_sandbox/requests")
    counts = run_klaviyo()
    assert {
        name: counts.get(name, 0) for name in ("profiles", "lists", "campaigns", "events")
    } == dict.fromkeys(("profiles", "lists", "campaigns", "events"), 0)
    assert requests_by_route(base) == {
        "/api/profiles/": 1, "/api/lists/": 1, "/api/metrics/": 1, "/api/events/": 1, "/api/campaigns/": 3,
    }  # fmt: skip
    assert_warehouse_equals_store(world_dir)

    # The vendor changes: three profiles edited, two new ones, one campaign edited, five new events.
    later = T0 + timedelta(days=400)
    changed = {2, 7, 11}
    add_records(
        world_dir, "klaviyo", "profiles",
        [profile(n, later if n in changed else T0 + timedelta(days=n),
                 email=f"changed{n}@example.com" if n in changed else None) for n in range(27)],
    )  # fmt: skip
    add_records(
        world_dir,
        "klaviyo",
        "campaigns",
        [campaign(1, later), campaign(2, T0 + timedelta(days=1)), campaign(3, T0, channel="sms")],
    )
    add_records(
        world_dir,
        "klaviyo",
        "events",
        [event(n, T0 + timedelta(hours=n), profile_n=n % 5) for n in range(35)],
    )
    httpx.delete(f"{base}/_sandbox/requests")
    counts = run_klaviyo()

    assert counts["profiles"] == 5
    assert counts["campaigns"] == 1
    assert counts["events"] == 5
    assert "lists" not in counts
    assert requests_by_route(base) == {
        "/api/profiles/": 1, "/api/lists/": 1, "/api/metrics/": 1, "/api/events/": 1, "/api/campaigns/": 3,
    }  # fmt: skip
    assert_warehouse_equals_store(world_dir)
    emails = dict(warehouse_rows("profiles", "id, attributes__email"))
    assert emails["01PROFILE00007"] == "changed7@example.com"
    assert len(emails) == 27

    # The staging models build and their tests pass on what was loaded.
    result = dbt_build("staging.klaviyo", warehouse_path().parent, monkeypatch)
    assert result.success, result.exception
    # dbt-duckdb keeps its (read-write) connection open in this process: a read-only one would conflict.
    with duckdb.connect(str(warehouse_path())) as con:
        profiles = con.execute(
            "select loyalty_number, email_marketing_consent, can_receive_sms_marketing "
            "from staging.stg_klaviyo__profiles where profile_id = '01PROFILE00004'"
        ).fetchall()
        message_ids = con.execute("select distinct message_id from staging.stg_klaviyo__events").fetchall()
    assert profiles == [("LOY000004", "SUBSCRIBED", True)]
    assert message_ids == [("CAMP001",)]


def test_paging_through_many_pages_loads_every_record_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))
    world_dir = small_world(tmp_path / "world", profiles=230, events=2100)
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        for key, value in dlt_environment(json.loads((world_dir / "world.json").read_text()), base).items():
            monkeypatch.setenv(key, value)
        run_klaviyo()
        routes = requests_by_route(base)
    assert len(warehouse_rows("profiles", "id")) == 230
    assert len(warehouse_rows("events", "id")) == 2100
    # 230 profiles at 100 a page, 2,100 events at 1,000 a page, 12 lists at 10 a page.
    assert (routes["/api/profiles/"], routes["/api/events/"], routes["/api/lists/"]) == (3, 3, 2)
