"""Faults on the write paths: each kind hits them like the read paths, a dropped answer still leaves the
write applied ("accepted a batch but never answered"), and `reject_rows` refuses single rows the way each
vendor refuses them."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.emulators.faults import Fault, FaultError
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import CREDENTIALS, add_records, make_world
from tests.sandbox.test_destination_hubspot import TASK_KEY, task
from tests.sandbox.test_destination_klaviyo import JOBS, finished_job, import_body
from tests.sandbox.test_hubspot_emulator import AUTH, at, contact
from tests.sandbox.test_klaviyo_emulator import HEADERS as KLAVIYO

META = CREDENTIALS["meta"]
TOKEN = {"access_token": META["access_token"]}
ACCOUNT = f"act_{META['ad_account_id']}"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def base(tmp_path):
    world = make_world(tmp_path / "world")
    add_records(world, "hubspot", "contacts", [contact(n, at(n), at(n)) for n in range(101, 103)])
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        yield url


def fault(base: str, **rule) -> None:
    answer = httpx.post(f"{base}/_sandbox/faults", json=rule)
    assert answer.status_code == 200, answer.text


def state(base: str, vendor: str) -> dict:
    return httpx.get(f"{base}/_sandbox/destinations/{vendor}").json()


def upsert(base: str, *emails: str) -> httpx.Response:
    inputs = [{"idProperty": "email", "id": e, "properties": {"firstname": "Jo"}} for e in emails]
    return httpx.post(
        f"{base}/hubspot/crm/v3/objects/contacts/batch/upsert", headers=AUTH, json={"inputs": inputs}
    )


def audience(base: str) -> str:
    answer = httpx.post(f"{base}/meta/v23.0/{ACCOUNT}/customaudiences", data={
        **TOKEN, "name": "VIP", "customer_file_source": "USER_PROVIDED_ONLY"})  # fmt: skip
    return answer.json()["id"]


def add_users(base: str, audience_id: str, values: list[str]) -> httpx.Response:
    payload = json.dumps({"schema": "EMAIL", "data": [sha(v) for v in values]})
    return httpx.post(f"{base}/meta/v23.0/{audience_id}/users", data={**TOKEN, "payload": payload})


def test_a_dropped_answer_leaves_each_vendors_write_applied(base):
    audience_id = audience(base)
    for vendor in ("hubspot", "klaviyo", "meta", "webhook"):
        fault(base, vendor=vendor, kind="drop", method="POST")
    with pytest.raises(httpx.HTTPError):
        upsert(base, "dropped@example.com")
    with pytest.raises(httpx.HTTPError):
        httpx.post(
            f"{base}/klaviyo{JOBS}", headers=KLAVIYO, json=import_body({"email": "dropped@example.com"})
        )
    with pytest.raises(httpx.HTTPError):
        add_users(base, audience_id, ["dropped"])
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{base}/webhook/alerts", json={"alert": "dropped"})
    # The client saw nothing, but every vendor applied the write.
    assert [c["email"] for c in state(base, "hubspot")["contacts"]] == ["dropped@example.com"]
    assert state(base, "klaviyo")["jobs"] == 1
    assert state(base, "meta")["audiences"][0]["rows"] == [{"EMAIL": sha("dropped")}]
    assert state(base, "webhook")["deliveries"][0]["body"] == {"alert": "dropped"}


def test_refusing_faults_apply_nothing(base):
    fault(
        base, vendor="hubspot", kind="throttle", retry_after=0.5, path="/crm/v3/objects/contacts/batch/upsert"
    )
    fault(base, vendor="hubspot", kind="error", status=500, path="/crm/v3/objects/contacts/batch/upsert")
    fault(base, vendor="hubspot", kind="expired_credentials", path="/crm/v3/objects/contacts/batch/upsert")
    throttled, failed, expired = (upsert(base, "a@example.com") for _ in range(3))
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "0.5"
    assert failed.status_code == 500 and failed.json()["category"] == "INTERNAL_ERROR"
    assert expired.status_code == 401 and expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    fault(base, vendor="webhook", kind="throttle", retry_after=2)
    webhook = httpx.post(f"{base}/webhook/alerts", json={})
    assert webhook.status_code == 429 and webhook.headers["Retry-After"] == "2"
    fault(base, vendor="meta", kind="throttle", code=80003)
    meta = add_users(base, "23850000000000001", ["a"])
    assert meta.status_code == 400 and meta.json()["error"]["code"] == 80003
    assert state(base, "hubspot")["contacts"] == [] and state(base, "webhook")["deliveries"] == []
    assert upsert(base, "a@example.com").status_code == 200


def test_slow_and_truncated_answers_still_apply_the_write(base):
    fault(base, vendor="hubspot", kind="slow", seconds=0.2)
    assert upsert(base, "slow@example.com").status_code == 200
    fault(base, vendor="hubspot", kind="truncate")
    cut = upsert(base, "cut@example.com")
    with pytest.raises(json.JSONDecodeError):
        cut.json()
    assert sorted(c["email"] for c in state(base, "hubspot")["contacts"]) == [
        "cut@example.com",
        "slow@example.com",
    ]


def test_reject_rows_makes_hubspot_answer_207_for_those_inputs(base):
    fault(base, vendor="hubspot", kind="reject_rows", every=2, path="/crm/v3/objects/contacts/batch/upsert")
    answer = upsert(base, "r1@example.com", "r2@example.com", "r3@example.com", "r4@example.com")
    assert answer.status_code == 207
    assert [e["context"]["ids"] for e in answer.json()["errors"]] == [["r2@example.com"], ["r4@example.com"]]
    assert sorted(c["email"] for c in state(base, "hubspot")["contacts"]) == [
        "r1@example.com",
        "r3@example.com",
    ]


def test_reject_rows_refuses_a_whole_hubspot_task_batch(base):
    assert (
        httpx.post(f"{base}/hubspot/crm/v3/properties/tasks", headers=AUTH, json=TASK_KEY).status_code == 201
    )
    fault(base, vendor="hubspot", kind="reject_rows", every=2, path="/crm/v3/objects/tasks/batch/create")
    answer = httpx.post(f"{base}/hubspot/crm/v3/objects/tasks/batch/create", headers=AUTH,
                        json={"inputs": [task("k1"), task("k2")]})  # fmt: skip
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
    assert state(base, "hubspot")["tasks"] == []


def test_reject_rows_turns_klaviyo_profiles_into_import_errors(base):
    fault(base, vendor="klaviyo", kind="reject_rows", every=3, path="/api/profile-bulk-import-jobs")
    body = import_body(*({"email": f"k{n}@example.com"} for n in range(1, 7)))
    job = httpx.post(f"{base}/klaviyo{JOBS}", headers=KLAVIYO, json=body).json()["data"]
    done = finished_job(base, job["id"])["attributes"]
    assert (done["completed_count"], done["failed_count"]) == (4, 2)
    errors = httpx.get(f"{base}/klaviyo{JOBS}/{job['id']}/import-errors", headers=KLAVIYO).json()["data"]
    assert [e["attributes"]["original_payload"]["email"] for e in errors] == [
        "k3@example.com",
        "k6@example.com",
    ]


def test_reject_rows_counts_meta_rows_as_invalid_entries(base):
    audience_id = audience(base)
    fault(base, vendor="meta", kind="reject_rows", every=2, path="/*/users")
    answer = add_users(base, audience_id, ["m1", "m2", "m3", "m4", "m5"])
    assert answer.json()["num_invalid_entries"] == 2
    assert len(state(base, "meta")["audiences"][0]["rows"]) == 3


def test_reject_rows_rules_are_checked():
    assert Fault.parse({"vendor": "meta", "kind": "reject_rows", "every": 1}).every == 1
    with pytest.raises(FaultError, match="every"):
        Fault.parse({"vendor": "meta", "kind": "reject_rows", "every": 0})
    with pytest.raises(FaultError, match="reject_rows applies to"):
        Fault.parse({"vendor": "shopify", "kind": "reject_rows"})
