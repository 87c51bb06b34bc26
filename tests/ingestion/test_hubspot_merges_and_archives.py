"""Merges and archivals at HubSpot reach the warehouse: the merged contact becomes its survivor, archived
contacts and deals leave staging and identity, a restored contact comes back."""

from __future__ import annotations

import duckdb
import pytest

from cdp.paths import warehouse_path
from ingestion.pipeline import run_source
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import add_records
from tests.ingestion.test_hubspot_source import ARCHIVED_LIST, SEARCH, point_dlt_at, requests_made
from tests.sandbox.test_hubspot_emulator import at, contact, iso, small_crm

MODELS = "+int_identity__records +int_identity__raw_identifiers"


@pytest.fixture
def world_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))
    return tmp_path / "world"


def archived(row: tuple, when) -> tuple:
    record_id, created, _, body = row
    return record_id, created, when, {**body, "archived": True, "archivedAt": iso(when), "updatedAt": iso(when)}


def query(sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path())) as con:
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_merged_contact_maps_to_its_survivor_and_archived_records_leave(world_dir, tmp_path, monkeypatch):
    records = small_crm(world_dir)
    contacts = {r[0]: r for r in records["contacts"]}
    deals = {r[0]: r for r in records["deals"]}
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        point_dlt_at(base, world_dir, monkeypatch)
        run_source("hubspot")
        requests_made(base)

        # At HubSpot: 1001 is merged into 1000 (the survivor lists it and is modified), contact 1005 and deal
        # 7004 are archived. Deals 7000 and 7001 still name 1001: nothing re-reads them.
        contacts["1000"] = contact(1000, at(0), at(500), hs_merged_object_ids="1001")
        merged = contacts.pop("1001")
        gone_contact = contacts.pop("1005")
        gone_deal = deals.pop("7004")
        add_records(world_dir, "hubspot", "contacts", contacts.values())
        add_records(world_dir, "hubspot", "deals", deals.values())
        add_records(world_dir, "hubspot", "archived_contacts", [archived(gone_contact, at(501))])
        add_records(world_dir, "hubspot", "archived_deals", [archived(gone_deal, at(502))])

        run_source("hubspot")
        made = requests_made(base)
        # The incremental run adds one archived listing per object type, nothing else.
        assert made[ARCHIVED_LIST] == 2 and made[SEARCH] == 6
        assert sorted(query("select object_type, id, reason from hubspot.deleted_records")) == [
            ("contacts", "1005", "archived"), ("deals", "7004", "archived")]
        assert query("select properties__hs_merged_object_ids from hubspot.contacts where id = '1000'") == [("1001",)]

    result = dbt_build(MODELS, tmp_path, monkeypatch)
    assert result.success, result.exception
    live = {r[0] for r in query("select contact_id from staging.stg_hubspot__contacts")}
    assert live == set(contacts) and "1001" not in live and "1005" not in live
    assert query("select merged_id, survivor_id from staging.stg_hubspot__merges") == [("1001", "1000")]
    assert {r[0] for r in query("select deal_id from staging.stg_hubspot__deals")} == set(deals)
    links = set(query("select deal_id, contact_id from staging.stg_hubspot__deal_contacts"))
    # 7000 named 1000 and 1001: one link to the survivor; 7001 named 1001 and 1002; 7004 is archived.
    assert {(d, c) for d, c in links if d in ("7000", "7001", "7004")} == {
        ("7000", "1000"), ("7001", "1000"), ("7001", "1002")}
    assert not {c for _, c in links} & {"1001", "1005"}
    # The merged contact's identifiers are the survivor's; neither gone contact is a record of its own.
    carried = set(query("select id_type, written_value from identity.int_identity__raw_identifiers"
                        " where source = 'hubspot' and record_id = '1000'"))
    assert {("email", merged[3]["properties"]["email"]), ("hubspot_contact_id", "1001"),
            ("email", "person1000@example.com")} <= carried
    hubspot_records = {r[0] for r in query("select record_id from identity.int_identity__records"
                                           " where source = 'hubspot'")}
    assert hubspot_records == set(contacts)
    assert not query("select 1 from identity.int_identity__raw_identifiers where source = 'hubspot'"
                     " and record_id in ('1001', '1005')")

    # Restored from the recycle bin: the contact is modified after its archivedAt and is live again.
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        point_dlt_at(base, world_dir, monkeypatch)
        contacts["1005"] = contact(1005, at(5), at(700))
        add_records(world_dir, "hubspot", "contacts", contacts.values())
        add_records(world_dir, "hubspot", "archived_contacts", [])
        run_source("hubspot")
    result = dbt_build("staging.hubspot", tmp_path, monkeypatch)
    assert result.success, result.exception
    assert query("select count(*) from staging.stg_hubspot__contacts where contact_id = '1005'") == [(1,)]
    assert query("select record_id from staging.stg_hubspot__deleted_records") == [("7004",)]
