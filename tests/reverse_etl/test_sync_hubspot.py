"""HubSpot contact properties and call tasks against the sandbox: properties created once, 207 answers fail
only the refused rows, and tasks are never duplicated, even when an answer is lost after HubSpot acted."""

from __future__ import annotations

import duckdb

from tests.reverse_etl.conftest import EXISTING, email_of, set_segment, spec_for, sync

SEGMENT = {f"cus_{n:04d}": float(n) for n in range(15)}


def contact_properties(sandbox) -> dict[str, dict]:
    return {c["email"]: c["properties"] for c in sandbox.state("hubspot")["contacts"]}


def test_contact_properties_are_created_once_and_upserted_by_email(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("hubspot_contacts", mode="upsert", fields={"cdp_score": "score"})
    _, _, recorded = sync(spec, warehouse)
    assert recorded.status == "succeeded"
    state = sandbox.state("hubspot")
    assert [p["name"] for p in state["properties"]["contacts"] if p["name"] == "cdp_score"] == ["cdp_score"]
    written = contact_properties(sandbox)
    for cid, score in SEGMENT.items():
        if email_of(cid):
            assert float(written[email_of(cid)]["cdp_score"]) == score
    # an existing contact keeps its HubSpot id
    ids = {c["email"]: c["id"] for c in state["contacts"]}
    assert ids["person1@example.com"] == "1"
    # no consent needed for CRM properties: the unsubscribed person is there too
    assert "person6@example.com" in written


def test_update_only_touches_contacts_the_crm_already_has(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    sync(spec_for("hubspot_contacts", mode="update", fields={"cdp_score": "score"}), warehouse)
    assert set(contact_properties(sandbox)) == {email_of(f"cus_{n:04d}") for n in range(EXISTING)}


def test_rows_refused_in_a_207_answer_fail_alone_and_succeed_on_the_next_run(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("hubspot_contacts", mode="upsert", fields={"cdp_score": "score"})
    sandbox.fault(vendor="hubspot", kind="reject_rows", path="/crm/v3/objects/contacts/batch/upsert", every=3)
    planned, _, recorded = sync(spec, warehouse)
    assert recorded.status == "partial" and recorded.failed == planned.adds // 3
    with duckdb.connect(str(warehouse)) as con:
        errors = [r[0] for r in con.execute(
            "select error from syncs.sync_row_results where status = 'failed'").fetchall()]
    assert len(errors) == recorded.failed and all(e.startswith("VALIDATION_ERROR") for e in errors)
    sandbox.clear_faults()
    planned, _, recorded = sync(spec, warehouse)
    assert planned.adds == len(errors) and recorded.status == "succeeded"
    assert len(contact_properties(sandbox)) == sum(1 for cid in SEGMENT if email_of(cid))


def test_call_tasks_are_created_once_even_when_the_answer_is_lost_after_hubspot_created_them(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("hubspot_tasks", mode="insert", key="task_key", fields={"hs_task_subject": "task_subject"})
    # HubSpot creates the tasks, then the connection drops before the answer: the client must not resend.
    sandbox.fault(vendor="hubspot", kind="drop", path="/crm/v3/objects/tasks/batch/create", times=1)
    _, _, recorded = sync(spec, warehouse)
    assert recorded.status == "succeeded"
    tasks = sandbox.state("hubspot")["tasks"]
    keys = [t["properties"]["cdp_task_key"] for t in tasks]
    # only people with a CRM contact get a task, each exactly once, for the contact's owner
    assert sorted(keys) == sorted(f"call:cus_{n:04d}" for n in range(EXISTING))
    assert all(t["properties"]["hubspot_owner_id"] == "9001" for t in tasks)
    assert all(t["properties"]["hs_task_subject"].startswith("Call cus_") for t in tasks)
    _, _, recorded = sync(spec, warehouse)
    assert len(sandbox.state("hubspot")["tasks"]) == EXISTING
