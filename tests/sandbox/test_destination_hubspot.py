"""The HubSpot emulator as a destination: properties, contact batch upsert and task batch create over real
HTTP, with HubSpot's answers (200/207/201, VALIDATION_ERROR, OBJECT_ALREADY_EXISTS) and its limits."""

from __future__ import annotations

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.emulators.hubspot import search_where
from sandbox.emulators.hubspot_writes import property_problem, property_value
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import add_records, make_world
from tests.sandbox.test_hubspot_emulator import AUTH, at, contact, engagement

CRM = "hubspot/crm/v3"
LTV = {"name": "cdp_ltv", "label": "Lifetime value", "type": "number", "fieldType": "number",
       "groupName": "contactinformation"}  # fmt: skip
TASK_KEY = {
    "name": "cdp_task_key",
    "label": "CDP task key",
    "type": "string",
    "fieldType": "text",
    "groupName": "task",
}


def hubspot_world(world_dir):
    make_world(world_dir)
    add_records(world_dir, "hubspot", "contacts", [contact(n, at(n), at(n + 1)) for n in range(101, 104)])
    add_records(world_dir, "hubspot", "tasks", [engagement("tasks", 5000, at(1), at(2), [101])])
    return world_dir


@pytest.fixture
def base(tmp_path):
    with sandbox_in_thread(hubspot_world(tmp_path / "world"), Limits(enabled=False)) as url:
        yield url


def post(base: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{base}/{CRM}/{path}", headers=AUTH, json=body)


def upsert(base: str, *inputs: tuple[str, dict]) -> httpx.Response:
    body = {"inputs": [{"idProperty": "email", "id": email, "properties": props} for email, props in inputs]}
    return post(base, "objects/contacts/batch/upsert", body)


def task(key: str, contact_id: str = "101", **properties) -> dict:
    return {
        "properties": {"hs_task_subject": f"Call {key}", "hs_task_body": "About the sofa",
                       "hs_task_status": "NOT_STARTED", "hs_task_type": "CALL",
                       "hs_timestamp": "2026-10-02T09:00:00.000Z", "hubspot_owner_id": "9001",
                       "cdp_task_key": key, **properties},
        "associations": [{"to": {"id": contact_id},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}],
    }  # fmt: skip


def state(base: str) -> dict:
    return httpx.get(f"{base}/_sandbox/destinations/hubspot").json()


# -- pure rules ---------------------------------------------------------------------------------------------


def test_a_property_definition_needs_hubspots_fields():
    assert property_problem(LTV) is None
    assert "groupName" in property_problem({k: v for k, v in LTV.items() if k != "groupName"})
    assert "type" in property_problem({**LTV, "type": "money"})
    assert "lowercase" in property_problem({**LTV, "name": "CDP LTV"})


def test_property_values_are_kept_as_text():
    assert [property_value(v) for v in (12.5, True, None, "x")] == ["12.5", "true", "", "x"]


def test_search_takes_in_and_not_in_with_a_values_list():
    where, params = search_where(
        [{"filters": [{"propertyName": "cdp_task_key", "operator": "IN", "values": ["a", "b"]}]}]
    )
    assert "in (?, ?)" in where and params == ["a", "b"]


# -- properties ---------------------------------------------------------------------------------------------


def test_properties_list_the_standard_ones_and_the_created_ones(base):
    created = post(base, "properties/contacts", LTV)
    assert created.status_code == 201 and created.json()["name"] == "cdp_ltv"
    names = {
        p["name"] for p in httpx.get(f"{base}/{CRM}/properties/contacts", headers=AUTH).json()["results"]
    }
    # HubSpot's own, the world's (loyalty_number) and the created one.
    assert {"email", "firstname", "loyalty_number", "cdp_ltv"} <= names
    assert [p["name"] for p in state(base)["properties"]["contacts"]] == ["cdp_ltv"]


def test_a_property_name_already_taken_is_a_409(base):
    assert post(base, "properties/contacts", LTV).status_code == 201
    again = post(base, "properties/contacts", LTV)
    assert again.status_code == 409 and again.json()["category"] == "OBJECT_ALREADY_EXISTS"
    standard = post(base, "properties/contacts", {**LTV, "name": "email"})
    assert standard.status_code == 409
    missing = post(base, "properties/contacts", {"name": "x_y"})
    assert missing.status_code == 400 and missing.json()["category"] == "VALIDATION_ERROR"


# -- contacts -----------------------------------------------------------------------------------------------


def test_an_upsert_keeps_the_world_contacts_id_and_creates_the_others(base):
    post(base, "properties/contacts", LTV)
    answer = upsert(base, ("PERSON101@example.com", {"cdp_ltv": 250}), ("new@example.com", {"cdp_ltv": "10"}))
    assert answer.status_code == 200 and answer.json()["status"] == "COMPLETE"
    existing, created = answer.json()["results"]
    assert (existing["id"], existing["new"]) == ("101", False)
    assert created["new"] is True and created["id"] not in ("101", "102", "103")
    assert existing["properties"]["cdp_ltv"] == "250"
    # A second upsert finds the contact it created.
    again = upsert(base, ("new@example.com", {"cdp_ltv": "11"})).json()["results"][0]
    assert (again["id"], again["new"]) == (created["id"], False)
    written = {c["id"]: c for c in state(base)["contacts"]}
    assert written["101"] == {"id": "101", "email": "person101@example.com",
                              "properties": {"email": "person101@example.com", "cdp_ltv": "250"}}  # fmt: skip
    assert written[created["id"]]["properties"]["cdp_ltv"] == "11"


def test_an_unknown_property_fails_only_its_input_with_a_207(base):
    answer = upsert(
        base, ("person102@example.com", {"firstname": "Jo"}), ("b@example.com", {"no_such_thing": "1"})
    )
    assert answer.status_code == 207
    body = answer.json()
    assert body["numErrors"] == 1 and [r["id"] for r in body["results"]] == ["102"]
    [error] = body["errors"]
    assert error["category"] == "VALIDATION_ERROR" and error["context"]["ids"] == ["b@example.com"]
    assert "no_such_thing" in error["message"]
    assert [c["email"] for c in state(base)["contacts"]] == ["person102@example.com"]


def test_an_upsert_refuses_big_batches_duplicates_and_bad_tokens(base):
    big = upsert(base, *((f"p{n}@example.com", {}) for n in range(101)))
    assert (
        big.status_code == 400
        and big.json()["category"] == "VALIDATION_ERROR"
        and "100" in big.json()["message"]
    )
    twice = upsert(base, ("a@example.com", {}), ("A@example.com", {}))
    assert twice.status_code == 400 and "Duplicate" in twice.json()["message"]
    wrong = httpx.post(f"{base}/{CRM}/objects/contacts/batch/upsert", headers={"Authorization": "Bearer nope"},
                       json={"inputs": [{"idProperty": "email", "id": "a@example.com", "properties": {}}]})  # fmt: skip
    assert wrong.status_code == 401 and wrong.json()["category"] == "INVALID_AUTHENTICATION"
    assert state(base)["contacts"] == []


# -- tasks --------------------------------------------------------------------------------------------------


def test_tasks_are_created_with_their_contact_and_found_by_key(base):
    post(base, "properties/tasks", TASK_KEY)
    answer = post(base, "objects/tasks/batch/create", {"inputs": [task("k1"), task("k2", "102")]})
    assert answer.status_code == 201 and answer.json()["status"] == "COMPLETE"
    ids = [r["id"] for r in answer.json()["results"]]
    assert answer.json()["results"][0]["properties"]["hs_task_subject"] == "Call k1"
    found = post(base, "objects/tasks/search", {
        "filterGroups": [{"filters": [{"propertyName": "cdp_task_key", "operator": "IN", "values": ["k1", "k3"]}]}],
        "properties": ["cdp_task_key"]}).json()  # fmt: skip
    assert found["total"] == 1 and found["results"][0]["id"] == ids[0]
    equal = [{"filters": [{"propertyName": "cdp_task_key", "operator": "EQ", "value": "k2"}]}]
    eq = post(base, "objects/tasks/search", {"filterGroups": equal}).json()
    assert [r["id"] for r in eq["results"]] == [ids[1]]
    # The world's own task is still searchable beside them.
    everything = post(base, "objects/tasks/search", {"limit": 10}).json()
    assert everything["total"] == 3
    assert [t["contact_ids"] for t in state(base)["tasks"]] == [["101"], ["102"]]


def test_task_creation_is_not_idempotent(base):
    post(base, "properties/tasks", TASK_KEY)
    for _ in range(2):
        assert post(base, "objects/tasks/batch/create", {"inputs": [task("same")]}).status_code == 201
    assert len(state(base)["tasks"]) == 2


def test_one_bad_task_refuses_the_whole_batch(base):
    post(base, "properties/tasks", TASK_KEY)
    unknown_contact = post(base, "objects/tasks/batch/create", {"inputs": [task("k1"), task("k2", "999999")]})
    assert unknown_contact.status_code == 400 and "999999" in unknown_contact.json()["message"]
    no_due_date = task("k3")
    del no_due_date["properties"]["hs_timestamp"]
    assert post(base, "objects/tasks/batch/create", {"inputs": [no_due_date]}).status_code == 400
    unknown_property = post(base, "objects/tasks/batch/create", {"inputs": [task("k4", cdp_nope="x")]})
    assert unknown_property.status_code == 400 and "cdp_nope" in unknown_property.json()["message"]
    too_many = post(base, "objects/tasks/batch/create", {"inputs": [task(str(n)) for n in range(101)]})
    assert too_many.status_code == 400
    assert state(base)["tasks"] == []


def test_writes_count_against_the_ten_second_window(tmp_path):
    # 190 per 10 s scaled to 2.
    with sandbox_in_thread(hubspot_world(tmp_path / "world"), Limits(scale=2 / 190)) as url:
        answers = [upsert(url, ("person101@example.com", {"firstname": "Jo"})) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json()["policyName"] == "TEN_SECONDLY_ROLLING" and "Retry-After" in answers[-1].headers
