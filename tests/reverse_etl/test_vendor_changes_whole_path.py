"""The whole path on the tiny world after the vendors merge, archive, delete and suppress records: the next
run's warehouse marks each change, profiles lose what is gone, and no sync writes to a merged or deleted id.

Slow (two refreshes of the tiny world); the e2e fixtures give the module one world, warehouse and sandbox.
"""

from __future__ import annotations

import json

import duckdb
import httpx
import pytest

from cdp import paths
from tests.e2e.conftest import e2e_home, isolated_cdp_home, sandbox_url, tiny_world  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
DAYS = 2


def materialize():
    from orchestration.run import materialize as run

    result = run()
    assert result.success, "the refresh run failed"


def rows(sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse_path()), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def changed(sandbox_url):  # noqa: F811 - the e2e fixture imported above
    """First refresh, DAYS of the world's life (with the vendors' changes), second refresh."""
    from sandbox.world.advance import advance_world

    mp = pytest.MonkeyPatch()
    # Klaviyo's reconciliation runs weekly by default; the world moves only DAYS here.
    mp.setenv("SOURCES__KLAVIYO__RECONCILE_DAYS", "1")
    try:
        materialize()
        before = httpx.get(f"{sandbox_url}/_sandbox/destinations/hubspot", timeout=30).json()
        advance_world(paths.world_dir(), DAYS, progress=lambda _: None)
        materialize()
    finally:
        mp.undo()
    after = httpx.get(f"{sandbox_url}/_sandbox/destinations/hubspot", timeout=30).json()
    ledger = json.loads((paths.sandbox_dir() / "world_state.json").read_text())["vendor_changes"]
    return ledger, before, after


def test_the_warehouse_marks_every_change(changed):
    ledger, _, _ = changed
    merges = dict(rows("select merged_id, survivor_id from staging.stg_hubspot__merges where object_type = 'contacts'"))
    assert merges == ledger["merged"]
    live = {r[0] for r in rows("select contact_id from staging.stg_hubspot__contacts")}
    assert not live & (set(ledger["merged"]) | set(ledger["archived_contacts"]))
    assert set(ledger["merged"].values()) <= live
    archived = set(rows("select object_type, record_id from staging.stg_hubspot__deleted_records"))
    assert archived == ({("contacts", i) for i in ledger["archived_contacts"]}
                        | {("deals", i) for i in ledger["archived_deals"]})
    assert {r[0] for r in rows("select record_id from staging.stg_shopify__deleted_records")} == set(
        ledger["deleted_customers"])
    assert {r[0] for r in rows("select record_id from staging.stg_klaviyo__deleted_records")} == set(
        ledger["deleted_profiles"])
    suppressed = set(ledger["suppressed_profiles"]) - set(ledger["deleted_profiles"])
    receiving = rows("select count(*) from staging.stg_klaviyo__profiles where list_contains(?, profile_id)"
                     " and can_receive_email_marketing", [sorted(suppressed)])
    assert suppressed and receiving == [(0,)]


def test_profiles_hold_no_merged_archived_or_deleted_record(changed):
    ledger, _, _ = changed
    held = set(rows("select source, record_id from marts.customer_source_records"))
    gone = ({("hubspot", i) for i in [*ledger["merged"], *ledger["archived_contacts"]]}
            | {("shopify", i) for i in ledger["deleted_customers"]}
            | {("klaviyo", i) for i in ledger["deleted_profiles"]})
    assert not held & gone
    # the merged contact's person is the survivor's: its identifiers were remapped, not lost
    for duplicate, survivor in ledger["merged"].items():
        assert rows("select count(*) from marts.customer_source_records where source = 'hubspot'"
                    " and record_id = ?", [survivor]) == [(1,)], duplicate


def test_no_sync_wrote_to_a_merged_or_archived_contact(changed):
    ledger, before, after = changed
    gone = set(ledger["merged"]) | set(ledger["archived_contacts"])
    was = {c["id"]: c["properties"] for c in before["contacts"]}
    for written in after["contacts"]:
        if written["id"] in gone:
            assert written["properties"] == was.get(written["id"]), written["id"]
    old_tasks = {t["id"] for t in before["tasks"]}
    new_targets = {i for t in after["tasks"] if t["id"] not in old_tasks for i in t["contact_ids"]}
    assert not new_targets & gone
