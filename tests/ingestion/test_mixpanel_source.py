"""The Mixpanel source loads every exported event exactly once, re-reads a lookback for late events, and costs
one export query per incremental run."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import httpx
import pytest

from cdp.clock import set_as_of
from cdp.paths import warehouse_path
from ingestion.mixpanel import helpers
from ingestion.pipeline import run_source
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import AS_OF, make_world

TODAY = AS_OF.date()


# -- pure logic -----------------------------------------------------------------------------------------


def test_export_windows_cover_the_range_without_overlap():
    windows = helpers.export_windows(date(2026, 1, 1), date(2026, 3, 2), 30)
    assert windows == [
        (date(2026, 1, 1), date(2026, 1, 30)),
        (date(2026, 1, 31), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 2)),
    ]
    assert helpers.export_windows(date(2026, 1, 2), date(2026, 1, 1), 30) == []


def test_a_later_run_starts_the_lookback_before_the_last_exported_day():
    start = date(2024, 10, 1)
    assert helpers.first_export_day(None, start, 3, TODAY) == start
    assert helpers.first_export_day("2026-09-30", start, 3, TODAY) == date(2026, 9, 27)
    # Never before the configured start, never after today.
    assert helpers.first_export_day("2024-10-02", start, 3, TODAY) == start
    assert helpers.first_export_day("2027-01-01", start, 3, TODAY) == TODAY


def test_every_exported_line_is_accounted_for(tmp_path):
    # Late events arrive as further gzip members; the check counts the lines of all of them, and a conversion
    # that reads fewer events than that refuses to load anything (DuckDB 1.5 can miss a file's last member).
    lines = [json.dumps(event("Page Viewed", f"id-{i}", at(TODAY))) + "\n" for i in range(5)]
    body = gzip.compress("".join(lines[:3]).encode()) + gzip.compress("".join(lines[3:]).encode())
    path = tmp_path / "export.ndjson.gz"
    path.write_bytes(body)
    check = helpers.ExportCheck(gzipped=True)
    check.feed(body)
    check.finish()
    assert check.lines == 5
    out = tmp_path / "events.parquet"
    assert helpers.exports_to_parquet([helpers.Export(path, TODAY, check.lines)], out) == 5
    with pytest.raises(helpers.MixpanelExportError, match="Read 5 events of the 6 lines exported"):
        helpers.exports_to_parquet([helpers.Export(path, TODAY, 6)], out)


# -- against the emulator -------------------------------------------------------------------------------


def event(name: str, insert_id: str, moment: datetime, **properties) -> dict:
    return {
        "event": name,
        "properties": {
            "time": int(moment.timestamp()),
            "distinct_id": f"$device:dev-{insert_id}",
            "$insert_id": insert_id,
            "$device_id": f"dev-{insert_id}",
            "$current_url": "https://shop.example.com/",
            "mp_lib": "web",
            "$os": "Windows",
            "$screen_width": 1920,
            **properties,
        },
    }


def append_events(world_dir, events: list[dict]) -> None:
    """Append events to the store's file of their event day, as a further gzip member (as arrivals do)."""
    by_day: dict[str, list[dict]] = {}
    for e in events:
        by_day.setdefault(datetime.fromtimestamp(e["properties"]["time"], UTC).date().isoformat(), []).append(
            e
        )
    folder = world_dir / "mixpanel" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    for day, day_events in by_day.items():
        with (folder / f"date={day}.ndjson.gz").open("ab") as f:
            f.write(gzip.compress("".join(json.dumps(e) + "\n" for e in day_events).encode()))


def stored_events(world_dir) -> dict[str, dict]:
    """Every event in the store by $insert_id (a re-sent duplicate collapses to one)."""
    events = {}
    for path in sorted((world_dir / "mixpanel" / "events").glob("*.ndjson.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            e = json.loads(line)
            events[e["properties"]["$insert_id"]] = e
    return events


def warehouse_rows() -> dict[str, tuple]:
    with duckdb.connect(str(warehouse_path())) as con:
        rows = con.execute(
            "select insert_id, event, epoch(time)::bigint, user_id, price, properties from mixpanel.events"
        ).fetchall()
    loaded = {row[0]: row[1:] for row in rows}
    assert len(loaded) == len(rows), "an event was loaded twice"
    return loaded


def export_requests(base_url: str) -> int:
    counts = httpx.get(f"{base_url}/_sandbox/requests").json()["requests"]
    return sum(c["count"] for c in counts if c["vendor"] == "mixpanel")


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def world(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CDP_HOME", str(home))
    world_dir = make_world(home / "sandbox" / "world")
    set_as_of(AS_OF)
    days = [TODAY - timedelta(days=n) for n in range(10, 0, -1)]
    append_events(
        world_dir,
        [
            event("Product Viewed", f"pv-{i}", at(day, 9), product_id=f"p{i}", category="sofas", price=499.5)
            for i, day in enumerate(days)
        ]
        + [
            event("Order Completed", f"oc-{i}", at(day, 18), order_id=f"o{i}", **{"$user_id": f"u{i}"})
            for i, day in enumerate(days)
        ]
        # Mixpanel sometimes delivers the same event twice: one row.
        + [event("Product Viewed", "pv-0", at(days[0], 9), product_id="p0", category="sofas", price=499.5)],
    )
    return world_dir


@pytest.mark.slow
def test_events_load_once_then_incrementally_with_a_lookback(world, tmp_path, monkeypatch):
    with sandbox_in_thread(world, Limits(enabled=False)) as base_url:
        for key, value in dlt_environment(json.loads((world / "world.json").read_text()), base_url).items():
            monkeypatch.setenv(key, value)

        run_source("mixpanel")
        store = stored_events(world)
        loaded = warehouse_rows()
        assert len(store) == 20
        assert set(loaded) == set(store)
        event_name, epoch, user_id, price, properties = loaded["oc-3"]
        assert (event_name, epoch, user_id, price) == (
            "Order Completed",
            store["oc-3"]["properties"]["time"],
            "u3",
            None,
        )
        assert loaded["pv-3"][3] == 499.5
        # Properties without a column of their own are kept, nothing is lost.
        assert json.loads(properties) == {"$screen_width": 1920}

        # A second run with nothing new: one export query, nothing changes.
        httpx.delete(f"{base_url}/_sandbox/requests")
        run_source("mixpanel")
        assert export_requests(base_url) == 1
        assert warehouse_rows() == loaded

        # A day later: new events of the new day, late events of two days ago, one re-sent duplicate.
        tomorrow = AS_OF + timedelta(days=1)
        make_world(world, as_of=tomorrow)
        set_as_of(tomorrow)
        append_events(
            world,
            [event("Page Viewed", f"new-{i}", at(TODAY, 8 + i)) for i in range(3)]
            + [event("Cart Viewed", "late-1", at(TODAY - timedelta(days=2), 23), cart_id="c1")]
            + [
                event(
                    "Order Completed",
                    "oc-9",
                    at(TODAY - timedelta(days=1), 18),
                    order_id="o9",
                    **{"$user_id": "u9"},
                )
            ],
        )
        httpx.delete(f"{base_url}/_sandbox/requests")
        run_source("mixpanel")
        assert export_requests(base_url) == 1
        store = stored_events(world)
        assert len(store) == 24
        assert set(warehouse_rows()) == set(store)

    result = dbt_build("staging.mixpanel", tmp_path, monkeypatch)
    assert result.success, result.exception
    with duckdb.connect(str(warehouse_path())) as con:
        assert con.execute("select count(*) from staging.stg_mixpanel__events").fetchone()[0] == 24
        price_type = con.execute(
            "select data_type from information_schema.columns where table_name = 'stg_mixpanel__events' "
            "and column_name = 'price'"
        ).fetchone()[0]
    assert price_type == "DECIMAL(18,2)"
