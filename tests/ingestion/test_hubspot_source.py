"""The HubSpot source loads the store exactly, incrementally, and past search's 10,000-result cap."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import duckdb
import httpx
import pytest

from cdp.paths import warehouse_path
from ingestion.hubspot.helpers import changed_records
from ingestion.pipeline import run_source
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from sandbox.world.store import records_table, write_resource
from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import add_records
from tests.sandbox.test_hubspot_emulator import at, contact, deal, small_crm

OBJECTS = ("contacts", "companies", "deals", "calls", "meetings", "tasks")
SEARCH = ("POST", "/crm/v3/objects/{object_type}/search")
ASSOCIATIONS = ("POST", "/crm/v4/associations/{from_type}/{to_type}/batch/read")
ARCHIVED_LIST = ("GET", "/crm/v3/objects/{object_type}")
# Rows written by the latest run: a run loads resource by resource, so it spans the loads after the marker
# `mark_run()` records before it.
LATEST_LOAD = "_dlt_load_id > (select coalesce(max(marker), '') from run_marker)"


def mark_run() -> None:
    """Remember the newest load id, so LATEST_LOAD selects what the next run writes."""
    with duckdb.connect(str(warehouse_path())) as con:
        con.execute("create table if not exists run_marker (marker varchar)")
        con.execute("insert into run_marker select max(load_id) from hubspot._dlt_loads")


@pytest.fixture
def world_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))
    return tmp_path / "world"


def point_dlt_at(sandbox_base: str, world_dir, monkeypatch) -> None:
    world = json.loads((world_dir / "world.json").read_text())
    for key, value in dlt_environment(world, sandbox_base).items():
        monkeypatch.setenv(key, value)


def requests_made(sandbox_base: str) -> Counter:
    """Requests per (method, route) since the last call; resets the sandbox's counter."""
    answer = httpx.get(f"{sandbox_base}/_sandbox/requests").json()["requests"]
    httpx.delete(f"{sandbox_base}/_sandbox/requests")
    return Counter({(r["method"], r["route"]): r["count"] for r in answer if r["vendor"] == "hubspot"})


def warehouse(sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        return con.execute(sql).fetchall()


def store_rows(world_dir, resource: str) -> list[dict]:
    with duckdb.connect() as con:
        path = world_dir / "hubspot" / f"{resource}.parquet"
        return [
            json.loads(body) for (body,) in con.execute(f"select body from read_parquet('{path}')").fetchall()
        ]


def assert_warehouse_equals_store(world_dir) -> None:
    for resource in OBJECTS:
        expected = {(b["id"], b["updatedAt"]) for b in store_rows(world_dir, resource)}
        loaded = warehouse(
            f"select id, strftime(updated_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%g') || 'Z' from hubspot.{resource}"
        )
        assert len(loaded) == len(expected), resource
        assert set(loaded) == expected, resource
    emails = {b["id"]: b["properties"]["email"] for b in store_rows(world_dir, "contacts")}
    assert dict(warehouse("select id, properties__email from hubspot.contacts")) == emails
    links = {
        (b["id"], link["id"])
        for b in store_rows(world_dir, "deals")
        for link in b["associations"]["contacts"]["results"]
    }
    loaded_links = warehouse(
        "select d.id, c.to_object_id from hubspot.deals__contacts c join hubspot.deals d on c._dlt_parent_id = d._dlt_id"
    )
    assert len(loaded_links) == len(links)
    assert set(loaded_links) == links


def build_staging(tmp_path, monkeypatch) -> None:

    result = dbt_build("staging.hubspot", tmp_path, monkeypatch)
    assert result.success, result.exception


@pytest.mark.slow
def test_loads_the_store_exactly_then_only_what_changed(world_dir, tmp_path, monkeypatch):
    records = small_crm(world_dir)
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        point_dlt_at(base, world_dir, monkeypatch)

        # First run: everything, exactly once.
        run_source("hubspot")
        assert_warehouse_equals_store(world_dir)
        for resource in (*OBJECTS, "owners", "pipelines"):
            assert warehouse(f"select count(*) from hubspot.{resource}") == [(len(records[resource]),)], (
                resource
            )
        assert warehouse("select count(*) from hubspot.pipelines__stages") == [(4,)]
        assert warehouse("select count(*) from hubspot.calls__contacts") == [(4,)]
        requests_made(base)


        # Second run, nothing changed: one search per object, owners, pipelines and the archived contacts
        # and deals re-read, nothing loaded.
        mark_run()
        run_source("hubspot")
        assert requests_made(base) == Counter(
            {SEARCH: 6, ("GET", "/crm/v3/owners"): 1, ("GET", "/crm/v3/pipelines/{object_type}"): 1,
             ARCHIVED_LIST: 2}
        )
        assert_warehouse_equals_store(world_dir)
        for resource in OBJECTS:
            assert warehouse(f"select count(*) from hubspot.{resource} where {LATEST_LOAD}") == [(0,)], (
                resource
            )

        # Change three contacts and two deals (one deal's contacts change), add two contacts and a deal.
        contacts = {r[0]: r for r in records["contacts"]}
        for number in (1003, 1007, 1011):
            contacts[str(number)] = contact(
                number, at(number - 1000), at(900), email=f"moved{number}@example.com"
            )
        for number in (1012, 1013):
            contacts[str(number)] = contact(number, at(901), at(901))
        add_records(world_dir, "hubspot", "contacts", contacts.values())
        deals = {r[0]: r for r in records["deals"]}
        deals["7001"] = deal(7001, at(1), at(902), [1005], [500])
        deals["7003"] = deal(7003, at(3), at(902), [1003, 1004, 1012], [])
        deals["7200"] = deal(7200, at(903), at(903), [1013])
        add_records(world_dir, "hubspot", "deals", deals.values())

        mark_run()
        run_source("hubspot")
        made = requests_made(base)
        # One search page per object, and one v4 read per association type for the one page of changed deals.
        assert made[SEARCH] == 6
        assert made[ASSOCIATIONS] == 2
        assert made[ARCHIVED_LIST] == 2
        assert sum(made.values()) == 12
        assert_warehouse_equals_store(world_dir)
        changed = warehouse(f"select id from hubspot.contacts where {LATEST_LOAD}")
        assert sorted(changed) == [("1003",), ("1007",), ("1011",), ("1012",), ("1013",)]

    build_staging(tmp_path, monkeypatch)
    # dbt-duckdb keeps its read-write connection open in this process: connect with the same configuration.
    with duckdb.connect(str(warehouse_path())) as con:
        amount = con.execute(
            "select amount from staging.stg_hubspot__deals where deal_id = '7000'"
        ).fetchone()
        assert amount == (Decimal("1234.50"),)
        links = sum(len(d[3]["associations"]["contacts"]["results"]) for d in deals.values())
        assert con.execute("select count(*) from staging.stg_hubspot__deal_contacts").fetchone() == (links,)
        types = dict(
            con.execute(
                "select engagement_type, count(*) from staging.stg_hubspot__engagements group by 1"
            ).fetchall()
        )
        assert types == {"call": 4, "meeting": 3, "task": 2}


@pytest.mark.slow
def test_more_than_10000_changes_with_one_shared_timestamp_load_each_contact_once(world_dir, monkeypatch):
    # 200 contacts before, 10,100 modified in the same millisecond, 50 after: the first query hits the
    # cap inside the shared instant, so the source must narrow by time and then walk that instant by id.
    from tests.helpers.worlds import make_world

    make_world(world_dir)
    shared = at(5000)
    rows = [contact(100_000 + n, at(n), at(n)) for n in range(200)]
    rows += [contact(200_000 + n, at(0), shared) for n in range(10_100)]
    rows += [contact(400_000 + n, at(0), shared + timedelta(minutes=n + 1)) for n in range(50)]
    write_resource(world_dir, "hubspot", "contacts", records_table(rows))
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        point_dlt_at(base, world_dir, monkeypatch)
        run_source("hubspot")
    loaded = warehouse("select id, count(*) over (partition by id) from hubspot.contacts")
    assert len(loaded) == len(rows) == 10_350
    assert {row_id for row_id, _ in loaded} == {r[0] for r in rows}
    assert all(copies == 1 for _, copies in loaded)


def test_changed_records_narrows_the_window_and_never_repeats_a_record():
    # An in-memory HubSpot search honouring GTE/EQ/GT filters, sorts, offset paging and the 10,000 cap.
    moments = [1_000] * 10_050 + [2_000 + n for n in range(30)]
    records = [{"id": str(n + 1), "updatedAt": _iso(ms)} for n, ms in enumerate(moments)]
    # Precomputed (id, modified ms) per record keep the fake fast.
    keys = {r["id"]: (int(r["id"]), ms) for r, ms in zip(records, moments, strict=True)}
    queries = []

    def search(filters, sort_property, after):
        queries.append((tuple((f["operator"], f["value"]) for f in filters), after))
        assert after + 200 <= 10_000, "paged past the cap"
        hits = [r for r in records if all(_matches(keys[r["id"]], f) for f in filters)]
        if sort_property == "hs_object_id":
            hits.sort(key=lambda r: keys[r["id"]][0])
        else:
            hits.sort(
                key=lambda r: (keys[r["id"]][1], -keys[r["id"]][0])
            )  # ties in reverse id order: the source must not rely on the tie order
        page = hits[after : after + 200]
        answer = {"total": len(hits), "results": page}
        if after + 200 < len(hits):
            answer["paging"] = {"next": {"after": str(after + 200)}}
        return answer

    yielded = [r["id"] for page in changed_records(search, "lastmodifieddate", 0) for r in page]
    assert len(yielded) == len(records)
    assert set(yielded) == {r["id"] for r in records}
    # Two capped time windows, the shared instant walked by id, then the rest: about 152 pages of 200.
    assert len(queries) <= 155


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _matches(key: tuple[int, int], condition: dict) -> bool:
    object_id, modified = key
    value = object_id if condition["propertyName"] == "hs_object_id" else modified
    bound = int(condition["value"])
    return {"GTE": value >= bound, "GT": value > bound, "EQ": value == bound}[condition["operator"]]
