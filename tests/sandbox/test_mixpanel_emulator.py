"""The Mixpanel raw export emulator speaks Mixpanel's contract: Basic auth, date ranges, gzip, limits, 429."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import AS_OF, CREDENTIALS, make_world

MIXPANEL = CREDENTIALS["mixpanel"]
AUTH = (MIXPANEL["username"], MIXPANEL["secret"])
TODAY = AS_OF.date()


def mixpanel_event(name: str, insert_id: str, moment: datetime, **properties) -> dict:
    return {
        "event": name,
        "properties": {
            "time": int(moment.timestamp()),
            "distinct_id": f"$device:{insert_id[:4]}",
            "$insert_id": insert_id,
            "$device_id": f"dev-{insert_id[:4]}",
            "$current_url": "https://shop.example.com/sofas",
            "mp_lib": "web",
            "$os": "Mac OS X",
            **properties,
        },
    }


def write_event_day(world_dir, day: date, events: list[dict], append: bool = False) -> None:
    """Write (or, for late arrivals, append a further gzip member to) the store's file of one event day."""
    folder = world_dir / "mixpanel" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(e) + "\n" for e in events).encode()
    with (folder / f"date={day.isoformat()}.ndjson.gz").open("ab" if append else "wb") as f:
        f.write(gzip.compress(lines))


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world_dir = make_world(tmp_path_factory.mktemp("mixpanel") / "world")
    days = [TODAY - timedelta(days=n) for n in (3, 2, 1)]
    write_event_day(
        world_dir, days[0], [mixpanel_event("Page Viewed", f"a{i:03d}", at(days[0])) for i in range(4)]
    )
    write_event_day(
        world_dir,
        days[1],
        [
            mixpanel_event("Product Viewed", "b001", at(days[1]), product_id="p1", price=499.0),
            mixpanel_event("Order Completed", "b002", at(days[1]), order_id="o1", utm_source="meta"),
        ],
    )
    # A late event of day 2, appended when it arrived: a second gzip member in the same file.
    write_event_day(world_dir, days[1], [mixpanel_event("Page Viewed", "b003", at(days[1], 23))], append=True)
    write_event_day(world_dir, days[2], [mixpanel_event("Page Viewed", "c001", at(days[2]))])
    return world_dir


@pytest.fixture(scope="module")
def base(world):
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        yield f"{url}/mixpanel"


def export(base: str, auth=AUTH, headers: dict | None = None, **params) -> httpx.Response:
    query = {
        "project_id": MIXPANEL["project_id"],
        "from_date": "2026-09-28",
        "to_date": "2026-09-30",
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    # httpx asks for gzip by default, and its decoder stops after the first gzip member: ask for plain text
    # unless a test is about gzip (those read the raw bytes).
    headers = {"Accept-Encoding": "identity", **(headers or {})}
    return httpx.get(f"{base}/api/2.0/export", params=query, auth=auth, headers=headers, timeout=10)


def raw_export(base: str, **params) -> tuple[httpx.Response, bytes]:
    query = {"project_id": MIXPANEL["project_id"], **params}
    with httpx.stream(
        "GET", f"{base}/api/2.0/export", params=query, auth=AUTH, headers={"Accept-Encoding": "gzip"}
    ) as response:
        return response, b"".join(response.iter_raw())


def insert_ids(response: httpx.Response) -> list[str]:
    return [json.loads(line)["properties"]["$insert_id"] for line in response.text.splitlines() if line]


def test_export_returns_every_arrived_event_of_the_range_as_ndjson(base):
    response = export(base, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert insert_ids(response) == ["a000", "a001", "a002", "a003", "b001", "b002", "b003", "c001"]


def test_export_with_gzip_streams_the_stored_files_unchanged(base, world):
    response, raw = raw_export(base, from_date="2026-09-29", to_date="2026-09-30")
    assert response.headers["content-encoding"] == "gzip"
    stored = b"".join(
        (world / "mixpanel" / "events" / f"date=2026-09-{d}.ndjson.gz").read_bytes() for d in (29, 30)
    )
    assert raw == stored
    assert [json.loads(line)["properties"]["$insert_id"] for line in gzip.decompress(raw).splitlines()] == [
        "b001",
        "b002",
        "b003",
        "c001",
    ]


def test_date_range_selects_whole_days(base):
    assert insert_ids(export(base, from_date="2026-09-29", to_date="2026-09-29")) == ["b001", "b002", "b003"]


def test_event_filter_and_limit_select_lines(base):
    response, raw = raw_export(
        base,
        from_date="2026-09-28",
        to_date="2026-09-30",
        event=json.dumps(["Product Viewed", "Order Completed"]),
    )
    assert response.headers["content-encoding"] == "gzip"
    assert [json.loads(line)["properties"]["$insert_id"] for line in gzip.decompress(raw).splitlines()] == [
        "b001",
        "b002",
    ]
    assert insert_ids(export(base, limit="3")) == ["a000", "a001", "a002"]
    assert insert_ids(export(base, where='properties["utm_source"] == "meta"')) == ["b002"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from_date": None}, "'from_date' is a required parameter"),
        ({"to_date": "30-09-2026"}, "not in the format YYYY-MM-DD"),
        ({"to_date": "2026-10-02"}, "'to_date' cannot be later than today"),
        ({"from_date": "2026-09-30", "to_date": "2026-09-28"}, "'from_date' cannot be later than 'to_date'"),
        ({"limit": "100001"}, "'limit' cannot be over 100000"),
        ({"event": "Page Viewed"}, "'event' must be a JSON array"),
    ],
)
def test_bad_parameters_are_answered_with_400_and_mixpanels_error_body(base, params, message):
    response = export(base, **params)
    assert response.status_code == 400
    body = response.json()
    assert message in body["error"]
    assert body["request"].startswith("/api/2.0/export?")


def test_today_is_a_valid_to_date(base):
    assert export(base, from_date=TODAY.isoformat(), to_date=TODAY.isoformat()).status_code == 200


@pytest.mark.parametrize("auth", [None, ("someone", MIXPANEL["secret"]), (MIXPANEL["username"], "wrong")])
def test_missing_or_wrong_service_account_is_refused_with_401(base, auth):
    response = export(base, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "Invalid username or secret"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_project_id_is_required_and_must_be_the_service_accounts_project(base):
    assert export(base, project_id=None).status_code == 400
    response = export(base, project_id="999")
    assert response.status_code == 403
    assert "project 999" in response.json()["error"]


def test_unknown_path_is_a_404(base):
    response = httpx.get(f"{base}/api/2.0/segmentation", auth=AUTH)
    assert response.status_code == 404
    assert "error" in response.json()


def test_requests_are_counted_per_route(world):
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        export(f"{url}/mixpanel")
        export(f"{url}/mixpanel", auth=None)
        counts = httpx.get(f"{url}/_sandbox/requests").json()["requests"]
    assert {"vendor": "mixpanel", "method": "GET", "route": "/api/2.0/export", "count": 2} in counts


def test_query_rate_limit_is_answered_with_429_and_mixpanels_body(world):
    # Scaled down, the allowance is one query per second and two per hour.
    with sandbox_in_thread(world, Limits(scale=1 / 30)) as url:
        first = export(f"{url}/mixpanel")
        second = export(f"{url}/mixpanel")
    assert first.status_code == 200
    assert second.status_code == 429
    assert "rate limit" in second.json()["error"].lower()
    assert second.json()["request"].startswith("/api/2.0/export?")
