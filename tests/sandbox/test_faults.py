"""The sandbox's fault layer: each vendor's own throttling answer, server errors, cut and dropped bodies,
repeated cursors, drift and expired credentials, switched per vendor and endpoint by the control endpoint."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.emulators.faults import Fault, FaultBook, FaultError, drift_record
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import CREDENTIALS, add_records, make_world
from tests.sandbox.test_shopify_emulator import shop_world

HUBSPOT = {"Authorization": f"Bearer {CREDENTIALS['hubspot']['access_token']}"}
SHOPIFY = {"X-Shopify-Access-Token": CREDENTIALS["shopify"]["access_token"]}
KLAVIYO = {"Authorization": f"Klaviyo-API-Key {CREDENTIALS['klaviyo']['api_key']}", "revision": "2026-07-15"}
META = {"access_token": CREDENTIALS["meta"]["access_token"]}
MIXPANEL = (CREDENTIALS["mixpanel"]["username"], CREDENTIALS["mixpanel"]["secret"])


@pytest.fixture()
def base(tmp_path):
    world = shop_world(tmp_path / "world", n=7)
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        yield url


def add(base: str, **fault) -> None:
    answer = httpx.post(f"{base}/_sandbox/faults", json=fault)
    assert answer.status_code == 200, answer.text


def orders(base: str, **params) -> httpx.Response:
    return httpx.get(
        f"{base}/shopify/admin/api/2025-07/orders.json", params={"status": "any", **params}, headers=SHOPIFY
    )


def test_each_vendor_throttles_in_its_own_way(base):
    for vendor in ("hubspot", "shopify", "klaviyo", "meta", "mixpanel"):
        add(base, vendor=vendor, kind="throttle", retry_after=0.5, code=80004)
    hubspot = httpx.get(f"{base}/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)
    assert hubspot.status_code == 429 and hubspot.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert hubspot.headers["Retry-After"] == "0.5" and hubspot.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    shopify = orders(base)
    assert shopify.status_code == 429 and "Exceeded 2 calls per second" in shopify.json()["errors"]
    klaviyo = httpx.get(f"{base}/klaviyo/api/lists/", headers=KLAVIYO)
    assert klaviyo.status_code == 429 and klaviyo.json()["errors"][0]["code"] == "throttled"
    meta = httpx.get(f"{base}/meta/v23.0/act_1/campaigns", params=META)
    # Meta never answers 429: HTTP 400, the code in the body, usage in the headers.
    assert meta.status_code == 400 and meta.json()["error"]["code"] == 80004
    assert json.loads(meta.headers["X-Business-Use-Case-Usage"])
    mixpanel = httpx.get(f"{base}/mixpanel/api/2.0/export", auth=MIXPANEL)
    assert mixpanel.status_code == 429 and "Retry-After" not in mixpanel.headers


def test_skip_and_times_choose_which_requests_a_fault_hits(base):
    add(base, vendor="shopify", kind="error", status=500, skip=1, times=2)
    assert [orders(base).status_code for _ in range(5)] == [200, 500, 500, 200, 200]
    assert httpx.get(f"{base}/_sandbox/faults").json()["faults"][0]["fired"] == 2


def test_a_fault_hits_only_its_vendor_and_path(base):
    add(base, vendor="shopify", kind="error", status=503, path="/admin/api/*/customers.json")
    assert orders(base).status_code == 200
    customers = httpx.get(f"{base}/shopify/admin/api/2025-07/customers.json", headers=SHOPIFY)
    assert customers.status_code == 503 and "503 Service Temporarily Unavailable" in customers.text


def test_a_truncated_body_is_complete_http_but_not_json(base):
    add(base, vendor="shopify", kind="truncate")
    answer = orders(base)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()


def test_a_dropped_connection_breaks_the_read(base):
    add(base, vendor="shopify", kind="drop")
    with pytest.raises(httpx.HTTPError):
        orders(base)
    assert orders(base).status_code == 200


def test_a_repeated_cursor_answers_the_previous_page_again(base):
    add(base, vendor="shopify", kind="repeat_cursor", path="/admin/api/*/orders.json")
    first = orders(base, limit=2)
    next_url = first.links["next"]["url"]
    again = httpx.get(next_url, headers=SHOPIFY)
    # The page is the first one again, and its next link is the very URL just asked for.
    assert again.json() == first.json() and again.links["next"]["url"] == next_url
    assert httpx.get(next_url, headers=SHOPIFY).json() != first.json()


def test_drift_changes_the_records_shape(base):
    add(base, vendor="shopify", kind="drift", change="type_change", field="id")
    add(base, vendor="shopify", kind="drift", change="nested_object", field="sandbox_nested")
    changed = orders(base).json()["orders"]
    assert all(order["id"].startswith("gid://sandbox/") for order in changed)
    nested = orders(base).json()["orders"]
    assert all(order["sandbox_nested"]["detail"]["level"] == 2 for order in nested)


def test_expired_credentials_are_answered_as_the_vendor_does(base):
    add(base, vendor="hubspot", kind="expired_credentials")
    add(base, vendor="meta", kind="expired_credentials")
    hubspot = httpx.get(f"{base}/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)
    assert hubspot.status_code == 401 and hubspot.json()["category"] == "EXPIRED_AUTHENTICATION"
    meta = httpx.get(f"{base}/meta/v23.0/act_1/campaigns", params=META).json()["error"]
    assert (meta["code"], meta["error_subcode"]) == (190, 463)


def test_mixpanel_drift_keeps_every_gzip_member(tmp_path):
    world = make_world(tmp_path / "world")
    events = world / "mixpanel" / "events"
    events.mkdir(parents=True)
    line = {"event": "view", "properties": {"time": 1790000000, "distinct_id": "d", "$insert_id": "a"}}
    late = {**line, "properties": {**line["properties"], "$insert_id": "b"}}
    # Two members: the day's file and a late event appended to it.
    (events / "date=2026-09-20.ndjson.gz").write_bytes(
        gzip.compress((json.dumps(line) + "\n").encode()) + gzip.compress((json.dumps(late) + "\n").encode())
    )
    add_records(world, "meta", "campaigns", [])
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        add(url, vendor="mixpanel", kind="drift", change="new_field", field="properties.sandbox_new_field")
        answer = httpx.get(
            f"{url}/mixpanel/api/2.0/export",
            params={
                "project_id": CREDENTIALS["mixpanel"]["project_id"],
                "from_date": "2026-09-20",
                "to_date": "2026-09-20",
            },
            auth=MIXPANEL,
        )
    lines = [json.loads(x) for x in answer.text.splitlines()]
    assert [x["properties"]["$insert_id"] for x in lines] == ["a", "b"]
    assert all("sandbox_new_field" in x["properties"] for x in lines)


def test_bad_fault_rules_are_refused_with_a_clear_error(base):
    answer = httpx.post(f"{base}/_sandbox/faults", json={"vendor": "meta", "kind": "throttle", "code": 500})
    assert answer.status_code == 400 and "80000-80014" in answer.json()["error"]
    with pytest.raises(FaultError, match="Unknown fault kind"):
        Fault.parse({"vendor": "hubspot", "kind": "meltdown"})
    with pytest.raises(FaultError, match="Unknown vendor"):
        FaultBook([{"vendor": "salesforce", "kind": "slow"}])


def test_drift_record_changes_only_records_with_the_path():
    record = {"properties": {"email": "a@b.c", "count": 3}}
    drift_record(record, "type_change", "properties.count")
    drift_record(record, "new_field", "missing.parent.field")
    assert record == {"properties": {"email": "a@b.c", "count": "gid://sandbox/3"}}
