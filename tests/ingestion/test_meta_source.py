"""The Meta source loads campaigns, daily insights, lead forms and leads exactly once, re-reads only the
insights lookback and new leads on later runs, and waits out Meta's in-body throttling."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import httpx
import pytest

from cdp.clock import set_as_of
from cdp.paths import warehouse_path
from ingestion.meta import helpers
from ingestion.pipeline import run_source
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import AS_OF, CREDENTIALS, add_records, make_world

META = CREDENTIALS["meta"]

# -- pure logic -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80000, 80004, 80014])
def test_meta_throttling_codes_are_retried(code):
    assert helpers.is_throttled({"code": code})


@pytest.mark.parametrize("code", [1, 100, 190, 2500, 80015])
def test_other_errors_are_not_retried(code):
    assert not helpers.is_throttled({"code": code})


def test_throttle_wait_uses_metas_estimate_of_time_to_regain_access():
    usage = {
        "1000000001": [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 7}]
    }
    assert helpers.throttle_wait_seconds({"X-Business-Use-Case-Usage": json.dumps(usage)}, attempt=0) == 420


def test_throttle_wait_backs_off_exponentially_without_an_estimate():
    assert helpers.throttle_wait_seconds({}, attempt=0) == 30
    assert helpers.throttle_wait_seconds({"X-App-Usage": '{"call_count": 100}'}, attempt=2) == 120


def test_insights_window_rereads_the_lookback_before_the_last_day_read():
    start = date(2024, 10, 1)
    today = date(2026, 10, 2)
    assert helpers.insights_window(None, start, 3, today) == (start, today)
    assert helpers.insights_window("2026-10-01", start, 3, today) == (date(2026, 9, 28), today)


# -- against the emulator -------------------------------------------------------------------------------


def meta_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def campaign(n: int, updated: datetime, status: str = "ACTIVE") -> tuple:
    created = datetime(2026, 6, n, tzinfo=UTC)
    body = {
        "id": f"12000000000000{n}",
        "name": f"Campaign {n}",
        "status": status,
        "objective": "OUTCOME_SALES",
        "created_time": meta_time(created),
        "updated_time": meta_time(updated),
    }
    return body["id"], created, updated, body


def insight(n: int, day: date, spend: str = "10.50", purchases: str = "2") -> tuple:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    body = {
        "campaign_id": f"12000000000000{n}",
        "campaign_name": f"Campaign {n}",
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
        "spend": spend,
        "impressions": "1500",
        "clicks": "30",
        "actions": [
            {"action_type": "purchase", "value": purchases},
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": purchases},
            {"action_type": "lead", "value": "1"},
        ],
    }
    return f"{body['campaign_id']}:{day.isoformat()}", moment, moment, body


def form(form_id: str) -> tuple:
    created = datetime(2026, 5, 1, tzinfo=UTC)
    body = {
        "id": form_id,
        "name": f"Form {form_id}",
        "status": "ACTIVE",
        "created_time": meta_time(created),
        "page_id": META["page_id"],
    }
    return form_id, created, created, body


def lead(n: int, form_id: str, created: datetime) -> tuple:
    body = {
        "id": f"4000000{n:03d}",
        "created_time": meta_time(created),
        "ad_id": "238000001",
        "campaign_id": "120000000000001",
        "form_id": form_id,
        "field_data": [
            {"name": "full_name", "values": [f"Lead {n}"]},
            {"name": "email", "values": [f"Lead{n}@Example.com "]},
            {"name": "phone_number", "values": ["07700 900123"]},
        ],
    }
    return body["id"], created, created, body


def warehouse(sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path())) as con:
        return con.execute(sql).fetchall()


def warehouse_state() -> dict[str, set]:
    return {
        "campaigns": set(warehouse("select id, status, updated_time::varchar from meta.campaigns")),
        "insights": set(
            warehouse("select campaign_id, date_start::varchar, spend::varchar from meta.insights")
        ),
        "leadgen_forms": set(warehouse("select id from meta.leadgen_forms")),
        "leads": set(warehouse("select id, form_id from meta.leads")),
    }


def store_state(world_dir) -> dict[str, set]:
    def bodies(resource: str) -> list[dict]:
        return [
            json.loads(row[0])
            for row in duckdb.sql(
                f"select body from read_parquet('{world_dir / 'meta' / resource}.parquet')"
            ).fetchall()
        ]

    def as_warehouse_time(text: str) -> str:
        # dlt stores Meta's ISO times as timestamps with time zone
        return str(warehouse(f"select '{text}'::timestamptz::varchar")[0][0])

    return {
        "campaigns": {
            (c["id"], c["status"], as_warehouse_time(c["updated_time"])) for c in bodies("campaigns")
        },
        "insights": {(i["campaign_id"], i["date_start"], i["spend"]) for i in bodies("insights")},
        "leadgen_forms": {(f["id"],) for f in bodies("leadgen_forms")},
        "leads": {(lead["id"], lead["form_id"]) for lead in bodies("leads")},
    }


def requests_by_route(base_url: str) -> dict[str, int]:
    counts = httpx.get(f"{base_url}/_sandbox/requests").json()["requests"]
    return {c["route"].rsplit("/", 1)[-1]: c["count"] for c in counts if c["vendor"] == "meta"}


@pytest.fixture
def world(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CDP_HOME", str(home))
    world_dir = make_world(home / "sandbox" / "world")
    set_as_of(AS_OF)
    days = [date(2026, 9, d) for d in range(21, 31)]
    add_records(
        world_dir, "meta", "campaigns", [campaign(n, datetime(2026, 7, n, tzinfo=UTC)) for n in (1, 2, 3)]
    )
    add_records(world_dir, "meta", "insights", [insight(n, day) for n in (1, 2) for day in days])
    add_records(world_dir, "meta", "leadgen_forms", [form("3001"), form("3002")])
    add_records(
        world_dir,
        "meta",
        "leads",
        [
            lead(n, "3001" if n % 2 else "3002", datetime(2026, 9, 20 + n, 10, tzinfo=UTC))
            for n in range(1, 7)
        ],
    )
    return world_dir


@pytest.mark.slow
def test_meta_loads_once_then_only_the_changes(world, tmp_path, monkeypatch):
    with sandbox_in_thread(world, Limits(enabled=False)) as base_url:
        for key, value in dlt_environment(json.loads((world / "world.json").read_text()), base_url).items():
            monkeypatch.setenv(key, value)
        # Small pages, so the source must follow `paging.next`.
        monkeypatch.setenv("SOURCES__META__PAGE_SIZE", "5")

        run_source("meta")
        loaded = warehouse_state()
        assert loaded == store_state(world)
        assert [len(loaded[t]) for t in ("campaigns", "insights", "leadgen_forms", "leads")] == [3, 20, 2, 6]

        # Nothing changed: one page per resource (insights: the 3-day lookback, 6 rows = 2 pages; leads: one
        # call per form), and no row changes.
        httpx.delete(f"{base_url}/_sandbox/requests")
        run_source("meta")
        assert requests_by_route(base_url) == {"campaigns": 1, "insights": 2, "leadgen_forms": 1, "leads": 2}
        assert warehouse_state() == loaded

        # A day later: campaign 2 paused, campaign 4 new, 29 Sep restated, a new day of insights, one new
        # lead on an old form and a new form with its first lead.
        tomorrow = AS_OF + timedelta(days=1)
        make_world(world, as_of=tomorrow)
        set_as_of(tomorrow)
        add_records(
            world,
            "meta",
            "campaigns",
            [
                campaign(1, datetime(2026, 7, 1, tzinfo=UTC)),
                campaign(2, AS_OF + timedelta(hours=5), "PAUSED"),
                campaign(3, datetime(2026, 7, 3, tzinfo=UTC)),
                campaign(4, AS_OF + timedelta(hours=6)),
            ],
        )
        days = [date(2026, 9, d) for d in range(21, 31)] + [date(2026, 10, 1)]
        add_records(
            world,
            "meta",
            "insights",
            [
                insight(n, day, spend="99.99" if day == date(2026, 9, 29) else "10.50")
                for n in (1, 2)
                for day in days
            ],
        )
        add_records(world, "meta", "leadgen_forms", [form("3001"), form("3002"), form("3003")])
        new_leads = [lead(7, "3001", AS_OF + timedelta(hours=2)), lead(8, "3003", AS_OF + timedelta(hours=3))]
        add_records(
            world,
            "meta",
            "leads",
            [
                lead(n, "3001" if n % 2 else "3002", datetime(2026, 9, 20 + n, 10, tzinfo=UTC))
                for n in range(1, 7)
            ]
            + new_leads,
        )
        httpx.delete(f"{base_url}/_sandbox/requests")
        run_source("meta")
        # insights: 28 Sep to 1 Oct for two campaigns = 8 rows = 2 pages; leads: one call for each of 3 forms.
        assert requests_by_route(base_url) == {"campaigns": 1, "insights": 2, "leadgen_forms": 1, "leads": 3}
        assert warehouse_state() == store_state(world)
        assert len(warehouse_state()["insights"]) == 22

    result = dbt_build("staging.meta", tmp_path, monkeypatch)
    assert result.success, result.exception
    assert warehouse(
        "select spend, purchases, leads from staging.stg_meta__ad_insights where insight_id = '120000000000001:2026-09-29'"
    ) == [(Decimal("99.99"), 2, 1)]
    assert warehouse(
        "select email, phone_number, full_name from staging.stg_meta__leads where lead_id = '4000000008'"
    ) == [("Lead8@Example.com ", "07700 900123", "Lead 8")]


def test_the_client_waits_as_meta_says_then_gives_up_with_metas_error(tmp_path):
    world_dir = make_world(tmp_path / "world")
    add_records(world_dir, "meta", "campaigns", [campaign(1, datetime(2026, 7, 1, tzinfo=UTC))])
    waits: list[float] = []
    # Scaled down, the token may make two calls an hour and the ad account one.
    with sandbox_in_thread(world_dir, Limits(scale=1 / 300)) as base_url:
        client = helpers.GraphClient(f"{base_url}/meta", "v23.0", META["access_token"], sleep=waits.append)
        account = f"act_{META['ad_account_id']}"
        assert next(client.pages(f"{account}/campaigns", {"fields": "id"})) == [{"id": "120000000000001"}]
        with pytest.raises(helpers.MetaApiError, match="code (80004|17)") as raised:
            next(client.pages(f"{account}/campaigns", {"fields": "id"}))
    assert "access_token" not in str(raised.value) and META["access_token"] not in str(raised.value)
    # The first refusal (80004) carried the account's usage: 60 minutes until access returns. The token's own
    # limit (17) follows without an estimate, so the later retries back off exponentially.
    assert waits == [3600.0, 60.0, 120.0, 240.0]
