"""The webhook receiver: every JSON delivery recorded with its path, headers and idempotency key; bearer
tokens checked when the world has one; 429 with Retry-After above its rate."""

from __future__ import annotations

import json

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import make_world


@pytest.fixture
def base(tmp_path):
    with sandbox_in_thread(make_world(tmp_path / "world"), Limits(enabled=False)) as url:
        yield url


def deliveries(base: str) -> list[dict]:
    return httpx.get(f"{base}/_sandbox/destinations/webhook").json()["deliveries"]


def test_a_delivery_is_recorded_without_its_authorization_header(base):
    answer = httpx.post(f"{base}/webhook/segments/vip", json={"customer_id": "c1", "event": "entered"},
                        headers={"Authorization": "Bearer any-token", "Idempotency-Key": "sync-1:c1"})  # fmt: skip
    assert answer.status_code == 200 and answer.json() == {
        "status": "received",
        "delivery": 1,
        "duplicate": False,
    }
    [delivery] = deliveries(base)
    assert delivery["path"] == "/segments/vip" and delivery["body"] == {
        "customer_id": "c1",
        "event": "entered",
    }
    assert delivery["idempotency_key"] == "sync-1:c1" and delivery["bearer_token"] == "any-token"
    assert (
        "authorization" not in delivery["headers"] and delivery["headers"]["idempotency-key"] == "sync-1:c1"
    )


def test_a_repeated_idempotency_key_is_kept_and_flagged(base):
    first = httpx.post(f"{base}/webhook", json=[1, 2], headers={"Idempotency-Key": "k"})
    again = httpx.post(f"{base}/webhook", json=[1, 2], headers={"Idempotency-Key": "k"})
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert [d["path"] for d in deliveries(base)] == ["/", "/"]


def test_a_body_that_is_not_json_is_refused(base):
    answer = httpx.post(f"{base}/webhook/alerts", content=b"not json", headers={"content-type": "text/plain"})
    assert answer.status_code == 400 and deliveries(base) == []


def test_the_token_is_checked_when_the_world_has_one(tmp_path):
    world = make_world(tmp_path / "world")
    meta = json.loads((world / "world.json").read_text())
    meta["credentials"]["webhook"] = {"token": "s3cret"}
    (world / "world.json").write_text(json.dumps(meta))
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        wrong = httpx.post(f"{url}/webhook/alerts", json={}, headers={"Authorization": "Bearer nope"})
        missing = httpx.post(f"{url}/webhook/alerts", json={})
        right = httpx.post(f"{url}/webhook/alerts", json={}, headers={"Authorization": "Bearer s3cret"})
        assert (wrong.status_code, missing.status_code, right.status_code) == (401, 401, 200)
        assert len(deliveries(url)) == 1


def test_deliveries_above_the_rate_get_a_429_with_retry_after(tmp_path):
    # 50 per second scaled down to 1.
    with sandbox_in_thread(make_world(tmp_path / "world"), Limits(scale=0.02)) as url:
        answers = [httpx.post(f"{url}/webhook/alerts", json={"n": n}) for n in range(3)]
        assert len(deliveries(url)) == sum(a.status_code == 200 for a in answers)
    assert 429 in [a.status_code for a in answers]
    assert int(next(a for a in answers if a.status_code == 429).headers["Retry-After"]) >= 1
