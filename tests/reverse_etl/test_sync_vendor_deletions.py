"""No sync writes to a record the vendor merged away or deleted, even while identity still lists it.

The warehouse here is the hand-made one of conftest plus the CRM staging the planner consults: contact 1 was
archived at HubSpot, contact 2 was merged into contact 102 (the same person, cus_0002, whose profile still
prefers the merged contact's email).
"""

from __future__ import annotations

import duckdb

from tests.helpers.worlds import STARTED_AT, add_records
from tests.reverse_etl.conftest import EXISTING, set_segment, spec_for, sync
from tests.sandbox.test_hubspot_emulator import contact

SEGMENT = {f"cus_{n:04d}": float(n) for n in range(10)}
SURVIVOR_EMAIL = "survivor2@example.com"


def vendor_changes(warehouse, world_dir) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists staging")
        con.execute("create table staging.stg_hubspot__contacts (contact_id varchar, email varchar)")
        con.executemany("insert into staging.stg_hubspot__contacts values (?, ?)",
                        [(str(n), f"person{n}@example.com") for n in (0, 3, 4)] + [("102", SURVIVOR_EMAIL)])
        con.execute("create table staging.stg_hubspot__merges (object_type varchar, merged_id varchar,"
                    " survivor_id varchar)")
        con.execute("insert into staging.stg_hubspot__merges values ('contacts', '2', '102')")
        con.execute("create table staging.stg_hubspot__deleted_records (object_type varchar, record_id varchar)")
        con.execute("insert into staging.stg_hubspot__deleted_records values ('contacts', '1')")
        # identity built before the change: it still lists contacts 1 and 2, and now 102 as well
        con.execute("insert into marts.customer_source_records values ('hubspot', 'contact', '102', 'cus_0002')")
    # At HubSpot: 1 is archived, 2 merged into 102.
    survivor = contact(102, STARTED_AT, STARTED_AT, email=SURVIVOR_EMAIL, hs_merged_object_ids="2")
    add_records(world_dir, "hubspot", "contacts",
                [contact(n, STARTED_AT, STARTED_AT) for n in (0, 3, 4)] + [survivor])


def test_update_sync_skips_archived_contacts_and_writes_the_survivor_not_the_merged_contact(
        sandbox, warehouse, tmp_path):
    vendor_changes(warehouse, tmp_path / "world")
    set_segment(warehouse, SEGMENT)
    planned, _, recorded = sync(spec_for("hubspot_contacts", mode="update", fields={"cdp_score": "score"}), warehouse)
    assert recorded.status == "succeeded"
    written = {c["email"]: c for c in sandbox.state("hubspot")["contacts"]}
    # The people the CRM knows, through a live contact: 0, 2 (as 102), 3, 4; never the archived 1.
    assert planned.adds == EXISTING - 1
    assert set(written) == {"person0@example.com", SURVIVOR_EMAIL, "person3@example.com", "person4@example.com"}
    assert written[SURVIVOR_EMAIL]["id"] == "102"
    assert float(written[SURVIVOR_EMAIL]["properties"]["cdp_score"]) == 2.0
    assert not {"person1@example.com", "person2@example.com"} & set(written)


def test_tasks_go_to_the_survivor_and_never_to_a_merged_or_archived_contact(sandbox, warehouse, tmp_path):
    vendor_changes(warehouse, tmp_path / "world")
    set_segment(warehouse, {f"cus_{n:04d}": float(n) for n in range(EXISTING)})
    spec = spec_for("hubspot_tasks", mode="insert", key="task_key", fields={"hs_task_subject": "task_subject"})
    planned, _, recorded = sync(spec, warehouse)
    assert recorded.status == "succeeded"
    contact_ids = sorted(i for task in sandbox.state("hubspot")["tasks"] for i in task["contact_ids"])
    assert contact_ids == ["0", "102", "3", "4"]
    assert planned.skipped_no_identifier == 1  # cus_0001: its only contact is archived


def test_a_list_sync_never_removes_or_changes_a_deleted_klaviyo_profile_and_re_adds_the_person(
        sandbox, warehouse, tmp_path):
    # cus_0001 and cus_0002 are subscribed and have world profiles 01PROFILE00001 / 01PROFILE00002.
    set_segment(warehouse, {"cus_0001": 1.0, "cus_0002": 2.0})
    spec = spec_for("klaviyo_list")
    _, _, recorded = sync(spec, warehouse)
    assert recorded.status == "succeeded"
    # At Klaviyo both profiles are deleted; the warehouse has seen it. cus_0001 leaves the segment, cus_0002
    # stays (with a changed row).
    add_records(tmp_path / "world", "klaviyo", "profiles", [])
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists staging")
        con.execute("create table staging.stg_klaviyo__deleted_records (object_type varchar, record_id varchar)")
        con.execute("insert into staging.stg_klaviyo__deleted_records values ('profiles', '01PROFILE00001'),"
                    " ('profiles', '01PROFILE00002')")
    set_segment(warehouse, {"cus_0002": 3.0})
    sandbox.reset_requests()
    planned, delivered, recorded = sync(spec, warehouse)
    assert recorded.status == "succeeded" and delivered.failed == {}
    assert (planned.adds, planned.changes, planned.removes) == (1, 0, 0)
    # No list removal named a deleted profile (cus_0001's would have); cus_0002 was imported again by email.
    removals = [r for r in sandbox.requests() if r["vendor"] == "klaviyo" and r["method"] == "DELETE"]
    assert removals == []
    with duckdb.connect(str(warehouse)) as con:
        held = con.execute("select key from syncs.sync_state where sync_name = ?", [spec.name]).fetchall()
    assert held == [("cus_0002",)]
