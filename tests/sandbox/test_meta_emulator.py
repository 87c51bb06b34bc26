"""The Meta Marketing API emulator speaks the Graph API's contract: token, fields, cursors, errors, throttling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import AS_OF, CREDENTIALS, add_records, make_world

META = CREDENTIALS["meta"]
ACCOUNT = f"act_{META['ad_account_id']}"
FORM_IDS = ["3000000001", "3000000002"]


def meta_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def campaign_row(n: int) -> tuple:
    created = AS_OF - timedelta(days=100 - n)
    body = {
        "id": f"12000000000000{n}",
        "name": f"Autumn sofas {n}",
        "status": "ACTIVE",
        "objective": "OUTCOME_SALES",
        "created_time": meta_time(created),
        "updated_time": meta_time(created + timedelta(days=1)),
    }
    return body["id"], created, created + timedelta(days=1), body


def insight_row(campaign: int, day: datetime) -> tuple:
    date = day.date().isoformat()
    body = {
        "campaign_id": f"12000000000000{campaign}",
        "campaign_name": f"Autumn sofas {campaign}",
        "date_start": date,
        "date_stop": date,
        "spend": "12.34",
        "impressions": "1000",
        "clicks": "20",
        "actions": [{"action_type": "purchase", "value": "2"}, {"action_type": "lead", "value": "1"}],
    }
    return f"{body['campaign_id']}:{date}", day, day, body


def form_row(form_id: str) -> tuple:
    created = AS_OF - timedelta(days=60)
    body = {
        "id": form_id,
        "name": "Design consultation",
        "status": "ACTIVE",
        "created_time": meta_time(created),
        "page_id": META["page_id"],
    }
    return form_id, created, created, body


def lead_row(n: int, form_id: str, created: datetime) -> tuple:
    body = {
        "id": f"40000000{n:02d}",
        "created_time": meta_time(created),
        "ad_id": "23800000001",
        "campaign_id": "120000000000001",
        "form_id": form_id,
        "field_data": [
            {"name": "email", "values": [f"lead{n}@example.com"]},
            {"name": "phone_number", "values": ["+447700900123"]},
            {"name": "full_name", "values": [f"Lead {n}"]},
        ],
    }
    return body["id"], created, created, body


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world_dir = make_world(tmp_path_factory.mktemp("meta") / "world")
    add_records(world_dir, "meta", "campaigns", [campaign_row(n) for n in range(1, 6)])
    days = [datetime(2026, 9, d, tzinfo=UTC) for d in (27, 28, 29, 30)]
    add_records(world_dir, "meta", "insights", [insight_row(c, d) for c in (1, 2) for d in days])
    add_records(world_dir, "meta", "leadgen_forms", [form_row(f) for f in FORM_IDS])
    add_records(
        world_dir,
        "meta",
        "leads",
        [lead_row(n, FORM_IDS[n % 2], AS_OF - timedelta(hours=10 * n)) for n in range(1, 7)],
    )
    return world_dir


@pytest.fixture(scope="module")
def base(world):
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        yield f"{url}/meta/v23.0"


def get(url: str, token: str | None = META["access_token"], **params) -> httpx.Response:
    if token is not None:
        params["access_token"] = token
    return httpx.get(url, params=params, timeout=10)


def all_pages(url: str, **params) -> list[dict]:
    """Follow `paging.next` to the end; returns the pages' bodies."""
    bodies = [get(url, **params).json()]
    while next_url := bodies[-1].get("paging", {}).get("next"):
        bodies.append(httpx.get(next_url, timeout=10).json())
    return bodies


def assert_graph_error(response: httpx.Response, code: int, subcode: int | None = None) -> dict:
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"]
    if subcode is not None:
        assert error["error_subcode"] == subcode
    return error


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_missing_or_wrong_access_token_is_oauth_error_190(base, token):
    error = assert_graph_error(get(f"{base}/{ACCOUNT}/campaigns", token=token), 190)
    assert error["message"] == "Invalid OAuth access token - Cannot parse access token"


def test_campaigns_page_by_cursor_and_next_is_absent_on_the_last_page(base):
    bodies = all_pages(f"{base}/{ACCOUNT}/campaigns", fields="id,name,status", limit=2)
    assert [len(b["data"]) for b in bodies] == [2, 2, 1]
    assert "next" not in bodies[-1]["paging"]
    assert all({"before", "after"} <= set(b["paging"]["cursors"]) for b in bodies)
    ids = [c["id"] for b in bodies for c in b["data"]]
    assert ids == [f"12000000000000{n}" for n in range(1, 6)]
    # Only the requested fields come back.
    assert set(bodies[0]["data"][0]) == {"id", "name", "status"}


def test_without_fields_a_campaign_is_only_its_id(base):
    assert get(f"{base}/{ACCOUNT}/campaigns").json()["data"][0] == {"id": "120000000000001"}


def test_an_after_cursor_continues_where_the_page_ended(base):
    first = get(f"{base}/{ACCOUNT}/campaigns", limit=3).json()
    rest = get(f"{base}/{ACCOUNT}/campaigns", limit=3, after=first["paging"]["cursors"]["after"]).json()
    assert [c["id"] for c in rest["data"]] == ["120000000000004", "120000000000005"]
    assert "next" not in rest["paging"]


def test_a_page_larger_than_the_limit_is_refused(base):
    error = assert_graph_error(get(f"{base}/{ACCOUNT}/campaigns", limit=501), 1)
    assert "reduce the amount of data" in error["message"]


def test_unknown_field_is_error_100(base):
    error = assert_graph_error(get(f"{base}/{ACCOUNT}/campaigns", fields="id,budget_remaining_x"), 100)
    assert "nonexisting field (budget_remaining_x)" in error["message"]


@pytest.mark.parametrize(
    "path", ["act_999/campaigns", "act_999/insights", "2000000999/leadgen_forms", "999/leads"]
)
def test_unknown_account_page_or_form_is_error_100_subcode_33(base, path):
    assert_graph_error(get(f"{base}/{path}"), 100, 33)


def test_unknown_edge_is_unknown_path_components(base):
    assert_graph_error(get(f"{base}/{ACCOUNT}/adsets_x"), 2500)


def test_insights_are_daily_rows_within_the_time_range(base):
    body = get(
        f"{base}/{ACCOUNT}/insights",
        level="campaign",
        time_increment=1,
        time_range=json.dumps({"since": "2026-09-28", "until": "2026-09-29"}),
        fields="campaign_id,spend,actions",
    ).json()
    rows = body["data"]
    assert sorted((r["campaign_id"], r["date_start"]) for r in rows) == [
        ("120000000000001", "2026-09-28"),
        ("120000000000001", "2026-09-29"),
        ("120000000000002", "2026-09-28"),
        ("120000000000002", "2026-09-29"),
    ]
    # Spend is a string, as Meta sends it; the reporting window always comes back.
    assert rows[0]["spend"] == "12.34"
    assert set(rows[0]) == {"campaign_id", "spend", "actions", "date_start", "date_stop"}


@pytest.mark.parametrize(
    "time_range", ['{"since": "2026-09-30", "until": "2026-09-28"}', "yesterday", '{"since": "2026-09-30"}']
)
def test_bad_time_range_is_error_100(base, time_range):
    assert_graph_error(get(f"{base}/{ACCOUNT}/insights", time_range=time_range), 100)


def test_leads_of_a_form_filter_on_time_created(base):
    url = f"{base}/{FORM_IDS[0]}/leads"
    everything = get(url, fields="id,created_time,field_data").json()["data"]
    assert [lead["id"] for lead in everything] == ["4000000006", "4000000004", "4000000002"]
    assert everything[0]["field_data"][0] == {"name": "email", "values": ["lead6@example.com"]}
    cutoff = int((AS_OF - timedelta(hours=45)).timestamp())
    filtering = json.dumps([{"field": "time_created", "operator": "GREATER_THAN", "value": cutoff}])
    newer = get(url, fields="id", filtering=filtering).json()["data"]
    assert newer == [{"id": "4000000004"}, {"id": "4000000002"}]


def test_leads_filtering_on_another_field_is_error_100(base):
    filtering = json.dumps([{"field": "ad_id", "operator": "EQUAL", "value": 1}])
    assert_graph_error(get(f"{base}/{FORM_IDS[0]}/leads", filtering=filtering), 100)


def test_leadgen_forms_of_the_page(base):
    body = get(f"{base}/{META['page_id']}/leadgen_forms", fields="id,name,page_id").json()
    assert [f["id"] for f in body["data"]] == FORM_IDS
    assert "next" not in body.get("paging", {})


def test_requests_are_counted_per_route_template(world):
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        get(f"{url}/meta/v23.0/{ACCOUNT}/campaigns")
        get(f"{url}/meta/v23.0/{FORM_IDS[1]}/leads")
        counts = httpx.get(f"{url}/_sandbox/requests").json()["requests"]
    routes = {c["route"]: c["count"] for c in counts if c["vendor"] == "meta"}
    assert routes == {"/{version}/act_{ad_account_id}/campaigns": 1, "/{version}/{form_id}/leads": 1}


def test_throttling_is_http_400_with_code_80004_then_17_and_usage_headers(world):
    # Scaled down, the token may make two calls an hour and the ad account one.
    with sandbox_in_thread(world, Limits(scale=1 / 300)) as url:
        first = get(f"{url}/meta/v23.0/{ACCOUNT}/campaigns")
        account_limited = get(f"{url}/meta/v23.0/{ACCOUNT}/campaigns")
        user_limited = get(f"{url}/meta/v23.0/{META['page_id']}/leadgen_forms")
    assert first.status_code == 200
    assert "X-Business-Use-Case-Usage" in first.headers

    assert_graph_error(account_limited, 80004)
    usage = json.loads(account_limited.headers["X-Business-Use-Case-Usage"])[META["ad_account_id"]][0]
    assert usage["call_count"] == 100
    assert usage["estimated_time_to_regain_access"] == 60

    error = assert_graph_error(user_limited, 17)
    assert error["message"] == "(#17) User request limit reached"
    assert json.loads(user_limited.headers["X-App-Usage"])["call_count"] == 100
