"""The Klaviyo emulator speaks Klaviyo's read contract (revision 2026-07-15), checked against its OpenAPI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import jsonschema
import pytest

from sandbox.emulators.common import Limits
from sandbox.emulators.klaviyo import parse_filter
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import CREDENTIALS, add_records, make_world

SPEC_PATH = Path(__file__).parents[2].parent / "shared" / "reference" / "klaviyo" / "stable.json"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
HEADERS = {"Authorization": f"Klaviyo-API-Key {CREDENTIALS['klaviyo']['api_key']}", "revision": "2026-07-15"}


# -- records in the store's Klaviyo shapes (sandbox/README.md); the source test uses them too ------------


def iso(moment: datetime) -> str:
    return moment.isoformat()


def profile(n: int, updated: datetime, email: str | None = None) -> tuple:
    created = T0 + timedelta(hours=n)
    body = {
        "type": "profile",
        "id": f"01PROFILE{n:05d}",
        "attributes": {
            "email": email or f"person{n}@example.com",
            "phone_number": f"+4915100{n:05d}",
            "external_id": f"ext-{n}",
            "first_name": "Jo",
            "last_name": f"Doe{n}",
            "created": iso(created),
            "updated": iso(updated),
            "properties": {"loyalty_number": f"LOY{n:06d}", "favourite_room": "kitchen"},
            "subscriptions": {
                "email": {"marketing": {"can_receive_email_marketing": n % 3 != 0,
                                        "consent": "SUBSCRIBED" if n % 3 != 0 else "UNSUBSCRIBED",
                                        "consent_timestamp": iso(created)}},
                "sms": {"marketing": {"can_receive_sms_marketing": n % 2 == 0,
                                      "consent": "SUBSCRIBED" if n % 2 == 0 else "NEVER_SUBSCRIBED",
                                      "consent_timestamp": iso(created) if n % 2 == 0 else None}},
            },
        },
    }  # fmt: skip
    return body["id"], created, updated, body


def klaviyo_list(n: int, updated: datetime) -> tuple:
    body = {
        "type": "list",
        "id": f"LIST{n:03d}",
        "attributes": {
            "name": f"Newsletter {n}",
            "created": iso(T0),
            "updated": iso(updated),
            "opt_in_process": "single_opt_in",
        },
    }
    return body["id"], T0, updated, body


def metric(n: int, name: str) -> tuple:
    body = {"type": "metric", "id": f"MET{n:03d}", "attributes": {
        "name": name, "created": iso(T0), "updated": iso(T0),
        "integration": {"object": "integration", "id": "0rG4eQ", "key": "klaviyo", "name": "Klaviyo",
                        "category": "Internal"}}}  # fmt: skip
    return body["id"], T0, T0, body


def campaign(n: int, updated: datetime, channel: str = "email") -> tuple:
    body = {
        "type": "campaign",
        "id": f"CAMP{n:03d}",
        "channel": channel,
        "attributes": {
            "name": f"Autumn sale {n}",
            "status": "Sent",
            "archived": False,
            "audiences": {"included": ["LIST001"], "excluded": []},
            "send_options": {"use_smart_sending": True},
            "tracking_options": None,
            "send_strategy": {"method": "static", "datetime": iso(T0 + timedelta(days=n))},
            "created_at": iso(T0),
            "scheduled_at": iso(T0 + timedelta(days=n)),
            "updated_at": iso(updated),
            "send_time": iso(T0 + timedelta(days=n)),
        },
    }
    return body["id"], T0, updated, body


def event(n: int, when: datetime, profile_n: int = 1, metric_n: int = 1, campaign_n: int | None = 1) -> tuple:
    properties = {"$message": f"CAMP{campaign_n:03d}" if campaign_n else None, "Subject": "Hello"}
    if campaign_n:
        properties["$flow"] = ""
    body = {
        "type": "event",
        "id": f"EVT{n:06d}",
        "attributes": {"timestamp": int(when.timestamp()), "datetime": iso(when), "uuid": f"uuid-{n}",
                       "event_properties": properties},
        "relationships": {"profile": {"data": {"type": "profile", "id": f"01PROFILE{profile_n:05d}"}},
                          "metric": {"data": {"type": "metric", "id": f"MET{metric_n:03d}"}}},
    }  # fmt: skip
    return body["id"], when, when, body


def small_world(world_dir: Path, profiles: int = 25, events: int = 30) -> Path:
    make_world(world_dir)
    add_records(
        world_dir, "klaviyo", "profiles", [profile(n, T0 + timedelta(days=n)) for n in range(profiles)]
    )
    add_records(world_dir, "klaviyo", "lists", [klaviyo_list(n, T0 + timedelta(days=n)) for n in range(12)])
    add_records(world_dir, "klaviyo", "metrics", [metric(1, "Opened Email"), metric(2, "Clicked Email")])
    add_records(
        world_dir, "klaviyo", "campaigns",
        [campaign(1, T0), campaign(2, T0 + timedelta(days=1)), campaign(3, T0, channel="sms")],
    )  # fmt: skip
    add_records(
        world_dir,
        "klaviyo",
        "events",
        [event(n, T0 + timedelta(hours=n), profile_n=n % 5) for n in range(events)],
    )
    return world_dir


# -- response validation against Klaviyo's OpenAPI ------------------------------------------------------


@cache
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def openapi_to_jsonschema(node):
    """OpenAPI 3.0 -> JSON Schema: resolve $refs, `nullable` as a null type, oneOf as anyOf.

    Klaviyo's oneOfs have no discriminator and overlapping members (email and SMS send options share
    `use_smart_sending`), so strict oneOf would reject Klaviyo's own examples.
    """
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return openapi_to_jsonschema(merged)
    converted = {k: openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if "oneOf" in converted:
        converted["anyOf"] = converted.pop("oneOf")
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_matches_spec(path: str, body: dict, status: str = "200") -> None:
    responses = spec()["paths"][path]["get"]["responses"]
    response = responses.get(status) or responses["4XX"]
    response = openapi_to_jsonschema(response)
    schema = response["content"]["application/vnd.api+json"]["schema"]
    jsonschema.validate(body, schema)


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path):
    world_dir = small_world(tmp_path / "world")
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        yield f"{base}/klaviyo", world_dir


def get(url: str, params: dict | None = None, headers: dict | None = None) -> httpx.Response:
    return httpx.get(url, params=params, headers=HEADERS if headers is None else headers)


def walk_pages(url: str, params: dict) -> list[dict]:
    pages, response = [], get(url, params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        next_url = response.json()["links"].get("next")
        if not next_url:
            return pages
        response = get(next_url)


# -- the filter language, as pure functions ---------------------------------------------------------------


def test_filter_expressions_parse_into_conditions_that_all_must_hold():
    conditions = parse_filter(
        "and(greater-than(updated,2025-01-01T00:00:00Z),any(email,['a@x.com','b@x.com'])),equals(id,\"P1\")"
    )
    assert [(c.operator, c.field, c.value) for c in conditions] == [
        ("greater-than", "updated", "2025-01-01T00:00:00Z"),
        ("any", "email", ["a@x.com", "b@x.com"]),
        ("equals", "id", "P1"),
    ]


def test_an_unbalanced_filter_is_a_clear_error():
    with pytest.raises(Exception, match="Invalid filter"):
        parse_filter("greater-than(updated,2025-01-01T00:00:00Z")


# -- the contract over HTTP -------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["profiles", "lists", "metrics", "events"])
def test_every_page_matches_klaviyos_schema_and_paging_returns_each_record_once(sandbox, resource):
    base, _ = sandbox
    pages = walk_pages(f"{base}/api/{resource}/", {"page[size]": 10} if resource != "metrics" else {})
    for page in pages:
        assert_matches_spec(f"/api/{resource}", page)
    ids = [record["id"] for page in pages for record in page["data"]]
    expected = {"profiles": 25, "lists": 12, "metrics": 2, "events": 30}[resource]
    assert len(ids) == len(set(ids)) == expected


def test_campaigns_require_a_channel_filter_and_list_one_channel(sandbox):
    base, _ = sandbox
    missing = get(f"{base}/api/campaigns/")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == "invalid"
    assert_matches_spec("/api/campaigns", missing.json(), "4XX")

    email = get(f"{base}/api/campaigns/", {"filter": "equals(messages.channel,'email')"})
    assert email.status_code == 200
    assert_matches_spec("/api/campaigns", email.json())
    assert [c["id"] for c in email.json()["data"]] == ["CAMP001", "CAMP002"]
    assert "channel" not in email.json()["data"][0]
    sms = get(f"{base}/api/campaigns", {"filter": "equals(messages.channel,'sms')"})
    assert [c["id"] for c in sms.json()["data"]] == ["CAMP003"]


def test_subscriptions_are_returned_only_when_asked_for(sandbox):
    base, _ = sandbox
    plain = get(f"{base}/api/profiles", {"page[size]": 1}).json()["data"][0]
    assert "subscriptions" not in plain["attributes"]
    rich = get(
        f"{base}/api/profiles", {"page[size]": 1, "additional-fields[profile]": "subscriptions"}
    ).json()
    assert_matches_spec("/api/profiles", rich)
    assert rich["data"][0]["attributes"]["subscriptions"]["email"]["marketing"]["consent"] == "UNSUBSCRIBED"


def test_updated_filter_and_sort_return_only_later_records_in_order(sandbox):
    base, _ = sandbox
    pages = walk_pages(
        f"{base}/api/profiles/",
        {"page[size]": 4, "sort": "updated", "filter": "greater-than(updated,2025-01-20T00:00:00+00:00)"},
    )
    updated = [p["attributes"]["updated"] for page in pages for p in page["data"]]
    assert updated == sorted(updated)
    assert [datetime.fromisoformat(u).day for u in updated] == [21, 22, 23, 24, 25]
    assert len(pages) == 2


def test_events_filter_on_datetime_bounds_both_ends(sandbox):
    base, _ = sandbox
    response = get(
        f"{base}/api/events/",
        {"filter": "greater-or-equal(datetime,2025-01-01T05:00:00Z),less-than(datetime,2025-01-01T08:00:00Z)",
         "sort": "-datetime"},
    )  # fmt: skip
    assert [e["id"] for e in response.json()["data"]] == ["EVT000007", "EVT000006", "EVT000005"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"filter": "greater-than(email,'a@x.com')"}, "filter"),  # operator the spec does not allow
        ({"filter": "equals(favourite_colour,'red')"}, "filter"),  # unknown field
        ({"filter": "greater-than(updated,yesterday)"}, "filter"),  # not a date-time
        ({"sort": "first_name"}, "sort"),
        ({"page[size]": "101"}, "page[size]"),
        ({"page[size]": "0"}, "page[size]"),
        ({"page[cursor]": "not-a-cursor"}, "page[cursor]"),
    ],
)
def test_bad_requests_get_klaviyos_400_with_the_offending_parameter(sandbox, params, parameter):
    base, _ = sandbox
    response = get(f"{base}/api/profiles/", params)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["status"], error["code"], error["title"]) == (400, "invalid", "Invalid input.")
    assert error["source"] == {"parameter": parameter}
    assert_matches_spec("/api/profiles", response.json(), "4XX")


def test_page_size_maximum_is_per_endpoint(sandbox):
    base, _ = sandbox
    assert get(f"{base}/api/lists/", {"page[size]": 10}).status_code == 200
    assert get(f"{base}/api/lists/", {"page[size]": 11}).status_code == 400
    assert get(f"{base}/api/events/", {"page[size]": 1000}).status_code == 200
    assert get(f"{base}/api/events/", {"page[size]": 1001}).status_code == 400


def test_a_cursor_cannot_be_replayed_with_another_filter(sandbox):
    base, _ = sandbox
    first = get(f"{base}/api/profiles/", {"page[size]": 5, "sort": "updated"}).json()
    cursor = httpx.URL(first["links"]["next"]).params["page[cursor]"]
    replay = get(f"{base}/api/profiles/", {"page[size]": 5, "sort": "-updated", "page[cursor]": cursor})
    assert replay.status_code == 400
    assert replay.json()["errors"][0]["source"] == {"parameter": "page[cursor]"}
    same = get(f"{base}/api/profiles/", {"page[size]": 5, "sort": "updated", "page[cursor]": cursor})
    assert same.status_code == 200
    assert same.json()["data"][0]["id"] == "01PROFILE00005"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"revision": "2026-07-15"}, 401, "not_authenticated"),
        ({"Authorization": "Bearer pk_test_klaviyo", "revision": "2026-07-15"}, 401, "not_authenticated"),
        (
            {"Authorization": "Klaviyo-API-Key pk_wrong", "revision": "2026-07-15"},
            401,
            "authentication_failed",
        ),
        ({"Authorization": HEADERS["Authorization"]}, 400, "invalid"),
    ],
)
def test_auth_and_revision_failures_are_answered_as_klaviyo_does(sandbox, headers, status, code):
    base, _ = sandbox
    response = get(f"{base}/api/profiles/", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    assert response.json()["errors"][0]["code"] == code
    assert "pk_test_klaviyo" not in response.text
    assert_matches_spec("/api/profiles", response.json(), "4XX")


def test_unknown_ids_and_paths_get_klaviyos_404(sandbox):
    base, _ = sandbox
    found = get(f"{base}/api/profiles/01PROFILE00003/")
    assert found.status_code == 200
    assert found.json()["data"]["id"] == "01PROFILE00003"
    for url in (f"{base}/api/profiles/NOPE/", f"{base}/api/unicorns/"):
        response = get(url)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"


def test_requests_are_counted_per_route(sandbox):
    base, _ = sandbox
    get(f"{base}/api/lists")
    get(f"{base}/api/lists/")
    log = httpx.get(base.removesuffix("/klaviyo") + "/_sandbox/requests").json()["requests"]
    assert {"vendor": "klaviyo", "method": "GET", "route": "/api/lists/", "count": 2} in log


def test_bursts_beyond_the_endpoint_limit_get_429_throttled_with_retry_after(tmp_path):
    world_dir = small_world(tmp_path / "world", profiles=1, events=1)
    # Metrics allow 10/s burst; at scale 0.3 that is 3 a second (and 45 a minute).
    with sandbox_in_thread(world_dir, Limits(scale=0.3)) as base:
        answers = [get(f"{base}/klaviyo/api/metrics/") for _ in range(6)]
        other_endpoint = get(f"{base}/klaviyo/api/profiles/")
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    throttled = next(a for a in answers if a.status_code == 429)
    assert int(throttled.headers["Retry-After"]) >= 1
    error = throttled.json()["errors"][0]
    assert (error["status"], error["code"], error["title"]) == (429, "throttled", "Request was throttled.")
    assert_matches_spec("/api/metrics", throttled.json(), "4XX")
    assert other_endpoint.status_code == 200  # limits are per endpoint
