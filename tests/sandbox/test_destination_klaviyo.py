"""The Klaviyo emulator as a destination: bulk profile import jobs and list membership, over real HTTP,
with every answer checked against Klaviyo's OpenAPI (shared/reference/klaviyo/stable.json)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import jsonschema
import pytest

from sandbox.emulators import klaviyo_writes
from sandbox.emulators.common import Limits
from sandbox.emulators.klaviyo_writes import job_status, merge_properties, new_id, profile_problem
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import add_records, make_world
from tests.sandbox.test_klaviyo_emulator import HEADERS, klaviyo_list, openapi_to_jsonschema, profile, spec

T0 = datetime(2025, 6, 1, tzinfo=UTC)
JOBS = "/api/profile-bulk-import-jobs"


def assert_spec(path: str, method: str, status: int, body) -> None:
    """The answer body matches the operation's response schema for that status in Klaviyo's OpenAPI."""
    responses = spec()["paths"][path][method]["responses"]
    response = openapi_to_jsonschema(responses.get(str(status)) or responses["4XX"])
    jsonschema.validate(body, response["content"]["application/vnd.api+json"]["schema"])


def klaviyo_world(world_dir):
    make_world(world_dir)
    add_records(world_dir, "klaviyo", "profiles", [profile(n, T0) for n in range(1, 4)])
    add_records(world_dir, "klaviyo", "lists", [klaviyo_list(1, T0)])
    return world_dir


@pytest.fixture
def base(tmp_path):
    with sandbox_in_thread(klaviyo_world(tmp_path / "world"), Limits(enabled=False)) as url:
        yield url


def import_body(*attributes: dict, lists: tuple[str, ...] = ()) -> dict:
    profiles = [{"type": "profile", "attributes": a} for a in attributes]
    data = {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": profiles}}}
    if lists:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": i} for i in lists]}}
    return {"data": data}


def start_job(base: str, *attributes: dict, lists: tuple[str, ...] = ()) -> dict:
    answer = httpx.post(f"{base}/klaviyo{JOBS}", headers=HEADERS, json=import_body(*attributes, lists=lists))
    assert answer.status_code == 202, answer.text
    assert_spec(JOBS, "post", 202, answer.json())
    return answer.json()["data"]


def finished_job(base: str, job_id: str) -> dict:
    """Poll the job as a client does until Klaviyo reports it complete."""
    for _ in range(200):
        answer = httpx.get(f"{base}/klaviyo{JOBS}/{job_id}", headers=HEADERS)
        assert answer.status_code == 200, answer.text
        assert_spec(f"{JOBS}/{{job_id}}", "get", 200, answer.json())
        if answer.json()["data"]["attributes"]["status"] == "complete":
            return answer.json()["data"]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never completed")


def state(base: str) -> dict:
    return httpx.get(f"{base}/_sandbox/destinations/klaviyo").json()


def create_list(base: str, name: str) -> str:
    answer = httpx.post(f"{base}/klaviyo/api/lists", headers=HEADERS,
                        json={"data": {"type": "list", "attributes": {"name": name}}})  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert_spec("/api/lists", "post", 201, answer.json())
    return answer.json()["data"]["id"]


def members_call(base: str, method: str, list_id: str, profile_ids: list[str]) -> httpx.Response:
    body = {"data": [{"type": "profile", "id": i} for i in profile_ids]}
    return httpx.request(method, f"{base}/klaviyo/api/lists/{list_id}/relationships/profiles", headers=HEADERS,
                         json=body)  # fmt: skip


# -- pure rules ---------------------------------------------------------------------------------------------


def test_a_profile_needs_a_valid_identifier():
    assert profile_problem({"email": "jo@example.com"}) is None
    assert profile_problem({"phone_number": "+4915112345678"}) is None
    assert profile_problem({"external_id": "C-1"}) is None
    assert profile_problem({"email": "not-an-email"})[0] == "email"
    assert profile_problem({"email": "jo@example.com", "phone_number": "0151 123"})[0] == "phone_number"
    assert profile_problem({"first_name": "Jo"}) is not None


def test_properties_merge_and_null_or_unset_removes_a_key():
    assert merge_properties({"a": 1, "b": 2, "c": 3}, {"a": 9, "b": None, "d": 4}, ["c"]) == {"a": 9, "d": 4}


def test_a_job_is_queued_then_processing_then_complete():
    assert [job_status(0.0, now, 0.2) for now in (0.05, 0.15, 0.2)] == ["queued", "processing", "complete"]


def test_new_ids_look_like_klaviyo_ulids():
    assert len(new_id()) == 26 and new_id(0.0).startswith("0000000000")


# -- bulk import --------------------------------------------------------------------------------------------


def test_a_bulk_import_matches_world_profiles_and_reports_errors(base):
    job = start_job(
        base,
        {"email": "PERSON1@example.com", "properties": {"cdp_ltv": 120.5, "cdp_segment": "vip"}},
        {"email": "new@example.com", "phone_number": "+4915199999999", "first_name": "Nea"},
        {"email": "not-an-email", "properties": {"cdp_ltv": 1}},
    )
    assert job["attributes"]["status"] == "queued" and job["attributes"]["total_count"] == 3
    done = finished_job(base, job["id"])["attributes"]
    assert (done["completed_count"], done["failed_count"]) == (2, 1) and done["completed_at"]

    ids = httpx.get(f"{base}/klaviyo{JOBS}/{job['id']}/relationships/profiles", headers=HEADERS).json()
    assert_spec(f"{JOBS}/{{id}}/relationships/profiles", "get", 200, ids)
    imported = [item["id"] for item in ids["data"]]
    # The existing person keeps their Klaviyo id (the email matched case-insensitively); the new one gets one.
    assert imported[0] == "01PROFILE00001" and len(imported[1]) == 26

    profiles = httpx.get(f"{base}/klaviyo{JOBS}/{job['id']}/profiles", headers=HEADERS).json()
    assert_spec(f"{JOBS}/{{id}}/profiles", "get", 200, profiles)
    assert profiles["data"][1]["attributes"]["first_name"] == "Nea"

    errors = httpx.get(f"{base}/klaviyo{JOBS}/{job['id']}/import-errors", headers=HEADERS).json()
    assert_spec(f"{JOBS}/{{id}}/import-errors", "get", 200, errors)
    [error] = errors["data"]
    assert error["attributes"]["original_payload"]["email"] == "not-an-email"
    assert error["attributes"]["source"]["pointer"] == "/data/attributes/profiles/data/2/attributes/email"

    written = {p["id"]: p for p in state(base)["profiles"]}
    assert written["01PROFILE00001"]["properties"] == {"cdp_ltv": 120.5, "cdp_segment": "vip"}
    assert written[imported[1]]["phone_number"] == "+4915199999999"
    assert state(base)["jobs"] == 1


def test_a_second_import_merges_properties_into_the_same_profile(base):
    first = start_job(base, {"email": "jo@example.com", "properties": {"a": 1, "b": 2}})
    finished_job(base, first["id"])
    second = start_job(base, {"email": "jo@example.com", "external_id": "C-7", "properties": {"b": None, "c": 3}},
                       {"external_id": "C-7", "properties": {"d": 4}})  # fmt: skip
    finished_job(base, second["id"])
    [jo] = state(base)["profiles"]
    assert jo["properties"] == {"a": 1, "c": 3, "d": 4} and jo["external_id"] == "C-7"


def test_a_job_lists_its_profiles_in_pages(base):
    job = start_job(base, *({"email": f"p{n}@example.com"} for n in range(5)))
    finished_job(base, job["id"])
    url, seen = f"{base}/klaviyo{JOBS}/{job['id']}/relationships/profiles?page[size]=2", []
    while url:
        page = httpx.get(url, headers=HEADERS).json()
        assert_spec(f"{JOBS}/{{id}}/relationships/profiles", "get", 200, page)
        seen += [item["id"] for item in page["data"]]
        url = page["links"].get("next")
    assert len(seen) == len(set(seen)) == 5
    too_big = httpx.get(
        f"{base}/klaviyo{JOBS}/{job['id']}/relationships/profiles?page[size]=101", headers=HEADERS
    )
    assert too_big.status_code == 400


def test_an_import_adds_its_profiles_to_the_lists_it_names(base):
    list_id = create_list(base, "VIP customers")
    finished_job(base, start_job(base, {"email": "person2@example.com"}, lists=(list_id,))["id"])
    [vip] = [x for x in state(base)["lists"] if x["id"] == list_id]
    assert vip == {"id": list_id, "name": "VIP customers", "profile_ids": ["01PROFILE00002"]}


def test_too_many_profiles_or_too_many_bytes_are_refused_whole(base):
    many = import_body(*({"email": f"p{n}@example.com"} for n in range(10_001)))
    answer = httpx.post(f"{base}/klaviyo{JOBS}", headers=HEADERS, json=many)
    assert answer.status_code == 400 and "10000" in answer.json()["errors"][0]["detail"]
    assert_spec(JOBS, "post", 400, answer.json())
    heavy = import_body(
        *({"email": f"p{n}@example.com", "properties": {"note": "x" * 1000}} for n in range(6000))
    )
    answer = httpx.post(f"{base}/klaviyo{JOBS}", headers=HEADERS, json=heavy)
    assert answer.status_code == 413 and answer.json()["errors"][0]["code"] == "request_too_large"
    assert state(base)["jobs"] == 0


def test_an_import_naming_an_unknown_list_is_refused(base):
    answer = httpx.post(f"{base}/klaviyo{JOBS}", headers=HEADERS,
                        json=import_body({"email": "a@example.com"}, lists=("NoSuch",)))  # fmt: skip
    assert answer.status_code == 400 and "NoSuch" in answer.json()["errors"][0]["detail"]


def test_writes_need_the_api_key_and_a_revision(base):
    body = import_body({"email": "a@example.com"})
    wrong = httpx.post(
        f"{base}/klaviyo{JOBS}", json=body, headers={**HEADERS, "Authorization": "Klaviyo-API-Key x"}
    )
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == "authentication_failed"
    no_revision = httpx.post(
        f"{base}/klaviyo{JOBS}", json=body, headers={"Authorization": HEADERS["Authorization"]}
    )
    assert no_revision.status_code == 400
    unknown_job = httpx.get(f"{base}/klaviyo{JOBS}/01NOSUCHJOB", headers=HEADERS)
    assert unknown_job.status_code == 404


# -- lists ------------------------------------------------------------------------------------------------


def test_a_created_list_is_found_by_name_through_the_read_api(base):
    list_id = create_list(base, "Lapsing buyers")
    found = httpx.get(
        f"{base}/klaviyo/api/lists/", headers=HEADERS, params={"filter": 'equals(name,"Lapsing buyers")'}
    )
    assert [x["id"] for x in found.json()["data"]] == [list_id]
    everything = httpx.get(f"{base}/klaviyo/api/lists/", headers=HEADERS).json()["data"]
    assert {x["id"] for x in everything} == {list_id, "LIST001"}
    assert httpx.get(f"{base}/klaviyo/api/lists/{list_id}/", headers=HEADERS).json()["data"]["attributes"][
        "name"
    ] == ("Lapsing buyers")


def test_list_membership_is_idempotent_both_ways(base):
    list_id = create_list(base, "VIP")
    assert members_call(base, "POST", list_id, ["01PROFILE00001", "01PROFILE00002"]).status_code == 204
    assert members_call(base, "POST", list_id, ["01PROFILE00001"]).status_code == 204
    assert members_call(base, "DELETE", list_id, ["01PROFILE00002", "01PROFILE00003"]).status_code == 204
    [vip] = [x for x in state(base)["lists"] if x["id"] == list_id]
    assert vip["profile_ids"] == ["01PROFILE00001"]


def test_a_world_list_takes_members_too(base):
    assert members_call(base, "POST", "LIST001", ["01PROFILE00003"]).status_code == 204
    assert state(base)["lists"] == [
        {"id": "LIST001", "name": "Newsletter 1", "profile_ids": ["01PROFILE00003"]}
    ]


def test_membership_refuses_unknown_lists_and_profiles_and_big_batches(base):
    list_id = create_list(base, "VIP")
    unknown_list = members_call(base, "POST", "NoSuch", ["01PROFILE00001"])
    assert unknown_list.status_code == 404
    unknown_profile = members_call(base, "POST", list_id, ["01PROFILE00001", "01GHOST"])
    assert unknown_profile.status_code == 400 and "01GHOST" in unknown_profile.json()["errors"][0]["detail"]
    assert_spec("/api/lists/{id}/relationships/profiles", "post", 400, unknown_profile.json())
    too_many = members_call(base, "POST", list_id, [f"01P{n}" for n in range(1001)])
    assert too_many.status_code == 400 and "1000" in too_many.json()["errors"][0]["detail"]
    # Nothing of a refused call was applied.
    assert [x["profile_ids"] for x in state(base)["lists"]] == [[]]


def test_list_members_page_by_join_time(base):
    list_id = create_list(base, "VIP")
    for profile_id in ("01PROFILE00003", "01PROFILE00001", "01PROFILE00002"):
        assert members_call(base, "POST", list_id, [profile_id]).status_code == 204
    url, seen = f"{base}/klaviyo/api/lists/{list_id}/relationships/profiles?page[size]=2", []
    while url:
        page = httpx.get(url, headers=HEADERS).json()
        assert_spec("/api/lists/{id}/relationships/profiles", "get", 200, page)
        seen += [item["id"] for item in page["data"]]
        url = page["links"].get("next")
    assert seen == ["01PROFILE00003", "01PROFILE00001", "01PROFILE00002"]


def test_list_writes_are_throttled_with_klaviyos_429(tmp_path):
    # A tenth of the spec's allowance: 1 call per second in a burst.
    with sandbox_in_thread(klaviyo_world(tmp_path / "world"), Limits(scale=0.1)) as base:
        list_id = create_list(base, "VIP")
        answers = [members_call(base, "POST", list_id, ["01PROFILE00001"]) for _ in range(3)]
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled and int(throttled[0].headers["Retry-After"]) >= 1
    assert throttled[0].json()["errors"][0]["code"] == "throttled"


def test_the_job_stays_queued_for_the_configured_time(base, monkeypatch):
    monkeypatch.setattr(klaviyo_writes, "JOB_SECONDS", 30.0)
    job = start_job(base, {"email": "slow@example.com"})
    status = httpx.get(f"{base}/klaviyo{JOBS}/{job['id']}", headers=HEADERS).json()["data"]["attributes"]
    assert status["status"] == "queued" and status["completed_count"] == 0
    # The profiles are listed once the job is complete, not before.
    ids = httpx.get(f"{base}/klaviyo{JOBS}/{job['id']}/relationships/profiles", headers=HEADERS).json()
    assert ids["data"] == []
    monkeypatch.setattr(klaviyo_writes, "JOB_SECONDS", 0.0)
    assert finished_job(base, job["id"])["attributes"]["completed_count"] == 1
    assert json.dumps(state(base)["profiles"]).count("slow@example.com") == 1


def test_a_sandbox_that_only_reads_creates_no_destination_file(tmp_path):
    world = klaviyo_world(tmp_path / "world")
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        assert httpx.get(f"{url}/klaviyo/api/lists/", headers=HEADERS).status_code == 200
    assert not (world / "destinations.duckdb").exists()
