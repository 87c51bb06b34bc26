"""A profile deleted at Klaviyo disappears from its listings: the source lists the ids once the
reconciliation period has passed (not before), and staging leaves the deleted profile out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import add_records
from tests.ingestion.test_klaviyo_source import klaviyo_sandbox, requests_by_route, run_klaviyo  # noqa: F401
from tests.sandbox.test_klaviyo_emulator import T0, profile

PROFILES = 25
NOW = T0 + timedelta(days=60)  # after every profile's last change


def rows(sql: str) -> list[tuple]:
    import duckdb

    from cdp.paths import warehouse_path

    with duckdb.connect(str(warehouse_path())) as con:
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_a_deleted_profile_is_noticed_at_the_next_reconciliation_and_leaves_staging(
        klaviyo_sandbox, tmp_path, monkeypatch):  # noqa: F811 - the fixture imported above
    import httpx

    base, world_dir = klaviyo_sandbox
    monkeypatch.setenv("CDP_AS_OF", NOW.isoformat())
    run_klaviyo()
    deleted = profile(4, T0 + timedelta(days=4))[0]
    add_records(world_dir, "klaviyo", "profiles",
                [profile(n, T0 + timedelta(days=n)) for n in range(PROFILES) if n != 4])

    # A day later: within the period, no listing, no request beyond the incremental reads.
    monkeypatch.setenv("CDP_AS_OF", (NOW + timedelta(days=1)).isoformat())
    httpx.delete(f"{base}/_sandbox/requests")
    run_klaviyo()
    assert requests_by_route(base)["/api/profiles/"] == 1
    assert rows("select count(*) from information_schema.tables where table_name = 'profile_listings'") == [(0,)]

    # A week on: every id is listed (24 in one page of 100) beside the incremental read.
    monkeypatch.setenv("CDP_AS_OF", (NOW + timedelta(days=8)).isoformat())
    httpx.delete(f"{base}/_sandbox/requests")
    run_klaviyo()
    assert requests_by_route(base)["/api/profiles/"] == 2
    assert rows("select count(*) from klaviyo.profile_listings") == [(PROFILES - 1,)]

    result = dbt_build("staging.klaviyo", tmp_path, monkeypatch)
    assert result.success, result.exception
    assert rows("select record_id, reason from staging.stg_klaviyo__deleted_records") == [(deleted, "deleted")]
    live = {r[0] for r in rows("select profile_id from staging.stg_klaviyo__profiles")}
    assert len(live) == PROFILES - 1 and deleted not in live
