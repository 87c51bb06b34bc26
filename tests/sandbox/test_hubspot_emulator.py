"""The HubSpot emulator speaks HubSpot's contract: auth, paging and its limits, search filters, throttling."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import CREDENTIALS, STARTED_AT, add_records, make_world

TOKEN = CREDENTIALS["hubspot"]["access_token"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# -- HubSpot-shaped records (sandbox/README.md); the source tests build their worlds with these too ------


def at(minutes: float) -> datetime:
    return STARTED_AT + timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contact(number: int, created: datetime, updated: datetime, **properties) -> tuple:
    record_id = str(number)
    props = {
        "email": f"person{number}@example.com",
        "firstname": f"First{number}",
        "lastname": f"Last{number}",
        "phone": f"+4930{number:07d}",
        "mobilephone": None,
        "company": None,
        "lifecyclestage": "lead",
        "hubspot_owner_id": "9001",
        "loyalty_number": None,
        "hs_email_optout": "false",
        "createdate": iso(created),
        "lastmodifieddate": iso(updated),
        "hs_object_id": record_id,
        **properties,
    }
    body = {"id": record_id, "properties": props, "createdAt": iso(created), "updatedAt": iso(updated)}
    return record_id, created, updated, {**body, "archived": False}


def _object(
    record_id: str,
    created: datetime,
    updated: datetime,
    props: dict,
    associations: dict,
    created_name="createdate",
) -> tuple:
    props = {
        **props,
        created_name: iso(created),
        "hs_lastmodifieddate": iso(updated),
        "hs_object_id": record_id,
    }
    body = {"id": record_id, "properties": props, "createdAt": iso(created), "updatedAt": iso(updated)}
    body |= {"archived": False}
    if associations:
        body["associations"] = associations
    return record_id, created, updated, body


def _links(kind: str, ids: list[str]) -> dict:
    return {"results": [{"id": str(i), "type": kind} for i in ids]}


def company(number: int, created: datetime, updated: datetime) -> tuple:
    props = {
        "name": f"Studio {number}",
        "domain": f"studio{number}.example",
        "industry": "INTERIOR_DESIGN",
        "is_trade_account": "true",
    }
    return _object(str(number), created, updated, props, {})


def deal(
    number: int, created: datetime, updated: datetime, contact_ids: list, company_ids: list = ()
) -> tuple:
    props = {
        "dealname": f"Living room {number}",
        "amount": "1234.50",
        "dealstage": "appointmentscheduled",
        "pipeline": "default",
        "closedate": iso(updated + timedelta(days=30)),
        "hubspot_owner_id": "9001",
    }
    associations = {"contacts": _links("deal_to_contact", contact_ids)}
    if company_ids:
        associations["companies"] = _links("deal_to_company", list(company_ids))
    return _object(str(number), created, updated, props, associations)


ENGAGEMENT_PROPERTIES = {
    "calls": lambda n, t: {
        "hs_call_title": f"Call {n}",
        "hs_call_status": "COMPLETED",
        "hs_timestamp": iso(t),
    },
    "meetings": lambda n, t: {"hs_meeting_title": f"Consultation {n}", "hs_meeting_start_time": iso(t)},
    "tasks": lambda n, t: {
        "hs_task_subject": f"Follow up {n}",
        "hs_task_body": "Call about the sofa",
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": "HIGH",
        "hs_task_type": "CALL",
        "hs_timestamp": iso(t),
    },
}


def engagement(kind: str, number: int, created: datetime, updated: datetime, contact_ids: list) -> tuple:
    props = {**ENGAGEMENT_PROPERTIES[kind](number, created), "hubspot_owner_id": "9001"}
    link_type = f"{kind[:-1]}_to_contact"
    associations = {"contacts": _links(link_type, contact_ids)}
    return _object(str(number), created, updated, props, associations, created_name="hs_createdate")


def owner(number: int) -> tuple:
    created = at(0)
    body = {
        "id": str(number),
        "email": f"rep{number}@homestore.example",
        "firstName": f"Rep{number}",
        "lastName": "Seller",
        "createdAt": iso(created),
        "updatedAt": iso(created),
        "archived": False,
    }
    return str(number), created, created, body


def pipeline(pipeline_id: str, stage_ids: list[str]) -> tuple:
    stages = [
        {
            "id": stage_id,
            "label": stage_id.title(),
            "displayOrder": order,
            "metadata": {
                "probability": str(round(order / len(stage_ids), 2)),
                "isClosed": str(order == 0).lower(),
            },
        }
        for order, stage_id in enumerate(stage_ids)
    ]
    body = {"id": pipeline_id, "label": f"Pipeline {pipeline_id}", "displayOrder": 0, "stages": stages}
    return pipeline_id, at(0), at(0), body


def small_crm(world_dir, contacts: int = 12) -> dict[str, list[tuple]]:
    """A small CRM: contacts modified a minute apart, deals/engagements linked to them, owners, a pipeline."""
    make_world(world_dir)
    records = {
        "contacts": [contact(1000 + n, at(n), at(n + 60)) for n in range(contacts)],
        "companies": [company(500 + n, at(n), at(n + 30)) for n in range(3)],
        "deals": [deal(7000 + n, at(n), at(n + 90), [1000 + n, 1001 + n], [500 + n % 3]) for n in range(5)]
        + [deal(7100, at(1), at(95), [])],  # a deal with no contact yet
        "calls": [engagement("calls", 3000 + n, at(n), at(n + 100), [1000 + n]) for n in range(4)],
        "meetings": [engagement("meetings", 4000 + n, at(n), at(n + 100), [1002 + n]) for n in range(3)],
        "tasks": [engagement("tasks", 5000 + n, at(n), at(n + 100), [1003 + n]) for n in range(2)],
        "owners": [owner(9000 + n) for n in range(3)],
        "pipelines": [
            pipeline("default", ["appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost"])
        ],
    }
    for resource, rows in records.items():
        add_records(world_dir, "hubspot", resource, rows)
    return records


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crm(tmp_path_factory):
    world_dir = tmp_path_factory.mktemp("hubspot") / "world"
    records = small_crm(world_dir)
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        with httpx.Client(base_url=f"{base}/hubspot", headers=AUTH, timeout=10) as client:
            yield client, records


def search(client: httpx.Client, object_type: str, **body) -> httpx.Response:
    return client.post(f"/crm/v3/objects/{object_type}/search", json=body)


def since(prop: str, moment: datetime, operator: str = "GTE") -> list[dict]:
    value = str(int(moment.timestamp() * 1000))
    return [{"filters": [{"propertyName": prop, "operator": operator, "value": value}]}]


# -- auth -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}])
def test_a_missing_or_wrong_token_is_answered_with_hubspots_401(crm, headers):
    client, _ = crm
    response = httpx.get(f"{client.base_url}/crm/v3/objects/contacts", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")
    uuid.UUID(body["correlationId"])


# -- list paging ----------------------------------------------------------------------------------------


def test_list_pages_by_after_cursor_through_every_record_once(crm):
    client, records = crm
    seen, params, pages = [], {"limit": 5}, 0
    while True:
        body = client.get("/crm/v3/objects/contacts", params=params).json()
        pages += 1
        seen += [result["id"] for result in body["results"]]
        if "paging" not in body:
            break
        assert body["paging"]["next"]["link"].startswith("http")
        params = {"limit": 5, "after": body["paging"]["next"]["after"]}
    assert sorted(seen) == sorted(r[0] for r in records["contacts"])
    assert len(seen) == len(set(seen))
    assert pages == 3  # 12 contacts: 5 + 5 + 2, no paging on the last page


def test_list_refuses_a_page_larger_than_100(crm):
    client, _ = crm
    response = client.get("/crm/v3/objects/contacts", params={"limit": 101})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert "100" in response.json()["message"]


def test_list_returns_only_requested_properties_and_associations_only_when_asked(crm):
    client, _ = crm
    plain = client.get("/crm/v3/objects/deals", params={"limit": 1, "properties": "dealname,amount"}).json()
    result = plain["results"][0]
    assert set(result["properties"]) == {
        "dealname",
        "amount",
        "hs_object_id",
        "createdate",
        "hs_lastmodifieddate",
    }
    assert "associations" not in result
    assert {"id", "createdAt", "updatedAt", "archived"} <= set(result)

    linked = client.get("/crm/v3/objects/deals", params={"limit": 1, "associations": "contacts"}).json()
    assoc = linked["results"][0]["associations"]
    assert set(assoc) == {"contacts"}
    assert assoc["contacts"]["results"][0]["type"] == "deal_to_contact"


def test_unknown_ids_and_paths_get_hubspots_404_body(crm):
    client, _ = crm
    missing = client.get("/crm/v3/objects/contacts/999999")
    assert missing.status_code == 404
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert client.get("/crm/v3/nothing/here").status_code == 404
    assert client.get("/crm/v3/objects/unicorns").json()["category"] == "VALIDATION_ERROR"


# -- search ---------------------------------------------------------------------------------------------


def test_search_returns_records_modified_since_the_cursor_oldest_first(crm):
    client, records = crm
    cutoff = at(65)  # contacts 1005.. were modified at or after minute 65
    body = search(
        client,
        "contacts",
        filterGroups=since("lastmodifieddate", cutoff),
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email"],
        limit=200,
    ).json()
    expected = [r[0] for r in records["contacts"] if r[2] >= cutoff]
    assert body["total"] == len(expected) == 7
    assert [r["id"] for r in body["results"]] == expected
    assert set(body["results"][0]["properties"]) == {
        "email",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    }
    assert "paging" not in body

    # GT leaves out the record modified exactly at the cursor; ISO values work as well as epoch ms.
    iso_filter = [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": iso(cutoff)}]}]
    assert search(client, "contacts", filterGroups=iso_filter).json()["total"] == 6


def test_search_filters_other_objects_on_hs_lastmodifieddate_and_never_returns_associations(crm):
    client, records = crm
    body = search(client, "deals", filterGroups=since("hs_lastmodifieddate", at(92)), limit=10).json()
    assert {r["id"] for r in body["results"]} == {r[0] for r in records["deals"] if r[2] >= at(92)}
    assert all("associations" not in r for r in body["results"])


def test_search_pages_by_offset_and_refuses_pages_over_200_and_results_past_10000(crm):
    client, _ = crm
    first = search(client, "contacts", limit=5).json()
    assert first["paging"]["next"]["after"] == "5"
    second = search(client, "contacts", limit=5, after=first["paging"]["next"]["after"]).json()
    assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in second["results"])

    too_big = search(client, "contacts", limit=201)
    assert too_big.status_code == 400 and too_big.json()["category"] == "VALIDATION_ERROR"

    past_cap = search(client, "contacts", limit=200, after="9900")
    assert past_cap.status_code == 400
    assert "10,000" in past_cap.json()["message"]
    assert search(client, "contacts", limit=100, after="9900").status_code == 200


def test_search_rejects_an_unknown_operator(crm):
    client, _ = crm
    groups = [{"filters": [{"propertyName": "lastmodifieddate", "operator": "SOMETIME", "value": "1"}]}]
    response = search(client, "contacts", filterGroups=groups)
    assert response.status_code == 400
    assert "SOMETIME" in response.json()["message"]


# -- associations, owners, pipelines --------------------------------------------------------------------


def test_v4_batch_read_returns_associations_and_207_for_objects_without_any(crm):
    client, _ = crm
    response = client.post(
        "/crm/v4/associations/deals/contacts/batch/read", json={"inputs": [{"id": "7000"}, {"id": "7100"}]}
    )
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "COMPLETE"
    [result] = body["results"]
    assert result["from"] == {"id": "7000"}
    assert [t["toObjectId"] for t in result["to"]] == [1000, 1001]
    assert result["to"][0]["associationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}
    ]
    assert body["errors"][0]["context"] == {"fromObjectId": ["7100"]}

    # The reverse direction is answered too.
    reverse = client.post("/crm/v4/associations/contacts/deals/batch/read", json={"inputs": [{"id": "1001"}]})
    assert sorted(t["toObjectId"] for t in reverse.json()["results"][0]["to"]) == [7000, 7001]


def test_owners_page_and_pipelines_carry_their_stages(crm):
    client, records = crm
    page = client.get("/crm/v3/owners", params={"limit": 2}).json()
    assert len(page["results"]) == 2 and page["paging"]["next"]["after"] == "2"
    rest = client.get("/crm/v3/owners", params={"limit": 2, "after": "2"}).json()
    assert len(rest["results"]) == 1 and "paging" not in rest

    pipelines = client.get("/crm/v3/pipelines/deals").json()["results"]
    assert [p["id"] for p in pipelines] == ["default"]
    assert [s["id"] for s in pipelines[0]["stages"]][:2] == ["appointmentscheduled", "qualifiedtobuy"]


# -- throttling -----------------------------------------------------------------------------------------


def test_throttling_answers_with_hubspots_429_body_and_headers(tmp_path):
    world_dir = tmp_path / "world"
    small_crm(world_dir, contacts=2)
    # scale 0.05: 9 requests per rolling 10 s in general, 1 search per second.
    with sandbox_in_thread(world_dir, Limits(scale=0.05)) as base:
        with httpx.Client(base_url=f"{base}/hubspot", headers=AUTH, timeout=10) as client:
            searches = [search(client, "contacts") for _ in range(3)]
            refused = next(r for r in searches if r.status_code == 429)
            assert refused.json()["policyName"] == "SECONDLY"

            answers = [client.get("/crm/v3/objects/contacts") for _ in range(12)]
    assert answers[0].status_code == 200
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "9"
    throttled = [r for r in answers if r.status_code == 429]
    assert throttled, "12 requests within one 10-second window must exceed 9"
    body = throttled[0].json()
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    uuid.UUID(body["correlationId"])
    headers = throttled[0].headers
    assert headers["X-HubSpot-RateLimit-Max"] == "9"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert int(headers["Retry-After"]) >= 1
