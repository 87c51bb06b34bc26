"""Klaviyo list and profile syncs against the sandbox: the list equals the segment, requests follow Klaviyo's
own OpenAPI (stable.json), only changes are sent, and refused rows are logged and retried."""

from __future__ import annotations

import json
import math
import re

import duckdb
import jsonschema
import pytest

from ingestion.http import VendorSession
from tests.reverse_etl.conftest import email_of, expected_members, set_segment, spec_for, sync
from tests.sandbox.test_klaviyo_emulator import openapi_to_jsonschema, spec

SEGMENT = {f"cus_{n:04d}": float(n) for n in range(20)}


def list_members(sandbox, name: str) -> set[str]:
    """Emails of the named list's members, from the sandbox's destination state."""
    state = sandbox.state("klaviyo")
    emails = {p["id"]: p["email"] for p in state["profiles"]}
    lists = [entry for entry in state["lists"] if entry["name"] == name]
    assert len(lists) == 1, f"expected one list named {name!r}, got {len(lists)}"
    return {emails.get(profile_id) for profile_id in lists[0]["profile_ids"]}


def emails(customer_ids) -> set[str]:
    return {email_of(cid) for cid in customer_ids}


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str, dict | None]]:
    """Every request the destinations send: (method, path, JSON body)."""
    calls = []
    original = VendorSession.send

    def recording(self, request, **kwargs):
        body = json.loads(request.body) if request.body and self.vendor == "klaviyo" else None
        calls.append((request.method, re.sub(r"^https?://[^/]+/klaviyo", "", request.url.split("?")[0]), body))
        return original(self, request, **kwargs)

    monkeypatch.setattr(VendorSession, "send", recording)
    return calls


def operation_for(method: str, path: str) -> dict:
    for template, operations in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "/?$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not an operation of Klaviyo's API")


def test_a_mirror_list_sync_makes_the_list_equal_the_consenting_members(sandbox, warehouse, sent):
    set_segment(warehouse, SEGMENT)
    planned, delivered, recorded = sync(spec_for("klaviyo_list"), warehouse)
    assert recorded.status == "succeeded" and delivered.failed == {}
    assert list_members(sandbox, "Test segment") == emails(expected_members(SEGMENT))
    # every request Klaviyo's write API receives is valid against its published contract
    writes = [(m, p, b) for m, p, b in sent if m != "GET"]
    assert writes
    for method, path, body in writes:
        operation = operation_for(method, path)
        schema = openapi_to_jsonschema(operation["requestBody"])["content"]["application/vnd.api+json"]["schema"]
        jsonschema.validate(body, schema)


def test_an_existing_klaviyo_profile_keeps_its_id(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    sync(spec_for("klaviyo_list"), warehouse)
    state = sandbox.state("klaviyo")
    ids = {p["email"]: p["id"] for p in state["profiles"]}
    assert ids["person1@example.com"] == "01PROFILE00001"  # the world's profile of that email


def test_only_changes_are_sent_and_an_unchanged_list_costs_no_request(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("klaviyo_list")
    sync(spec, warehouse)
    sandbox.reset_requests()
    planned, _, _ = sync(spec, warehouse)
    assert planned.planned == 0
    assert sandbox.count("klaviyo") == 0

    moved = dict(SEGMENT)
    for n in range(3):
        moved.pop(f"cus_{n:04d}")
    moved.update({f"cus_{n:04d}": 0.0 for n in range(20, 24)})
    set_segment(warehouse, moved)
    planned, delivered, recorded = sync(spec, warehouse)
    joined = expected_members(f"cus_{n:04d}" for n in range(20, 24))  # cus_0020 has not consented
    assert (planned.adds, planned.removes) == (len(joined), 3) and recorded.status == "succeeded"
    assert list_members(sandbox, "Test segment") == emails(expected_members(moved))
    writes = sandbox.writes("klaviyo")
    # one import job, one list add, one list remove: ceil(k / batch size) per kind of operation
    assert sum(n for (method, route), n in writes.items() if "bulk-import" in route and method == "POST") == 1
    list_writes = {method: n for (method, route), n in writes.items() if "relationships/profiles" in route}
    assert list_writes == {"POST": 1, "DELETE": 1}


def test_batches_follow_the_list_limit(sandbox, warehouse, monkeypatch):
    monkeypatch.setattr("reverse_etl.destinations.klaviyo.LIST_BATCH", 4)
    set_segment(warehouse, SEGMENT)
    spec = spec_for("klaviyo_list")
    planned, _, _ = sync(spec, warehouse)
    adds = sandbox.writes("klaviyo")
    list_adds = sum(n for (method, route), n in adds.items() if "relationships/profiles" in route and method == "POST")
    assert list_adds == math.ceil(planned.adds / 4)


def test_refused_profiles_are_logged_and_delivered_on_the_next_run(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("klaviyo_profiles", mode="upsert", fields={"cdp_score": "score"})
    sandbox.fault(vendor="klaviyo", kind="reject_rows", path="/api/profile-bulk-import-jobs*", method="POST", every=4)
    planned, delivered, recorded = sync(spec, warehouse)
    assert recorded.status == "partial" and 0 < recorded.failed < planned.adds
    with duckdb.connect(str(warehouse)) as con:
        failed = con.execute("select count(*), min(error) from syncs.sync_row_results where status = 'failed'"
                             ).fetchone()
    assert failed[0] == recorded.failed and "Klaviyo import error" in failed[1]
    sandbox.clear_faults()
    planned, delivered, recorded = sync(spec, warehouse)
    assert planned.adds == failed[0] and recorded.status == "succeeded"
    profiles = {p["email"]: p["properties"] for p in sandbox.state("klaviyo")["profiles"]}
    for cid, score in SEGMENT.items():
        if email_of(cid):
            assert profiles[email_of(cid)]["cdp_score"] == score
