"""The Shopify Admin REST emulator keeps Shopify's contract: auth, Link-header paging and its restrictions,
incremental filters, the page-size limit, the leaky-bucket throttle and the client-credentials grant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.emulators import shopify as shopify_emulator
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import CREDENTIALS, add_records, make_world

VERSION = "2025-07"
TOKEN = CREDENTIALS["shopify"]["access_token"]
DAY0 = datetime(2025, 1, 1, tzinfo=UTC)


# -- hand-made Shopify records in the world store's body shapes (sandbox/README.md) ------------------------
def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def customer_record(n: int, updated_at: datetime) -> tuple:
    created_at = DAY0 + timedelta(hours=n)
    consent = {
        "state": "subscribed" if n % 2 else "not_subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": iso(created_at),
    }
    body = {
        "id": 6000000000 + n,
        "email": f"person{n}@example.com",
        "phone": f"+4420790000{n:02d}",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "state": "enabled",
        "tags": "vip" if n % 3 == 0 else "",
        "orders_count": n % 4,
        "total_spent": f"{n * 10}.50",
        "note": f"note {n}",
        "default_address": {"country_code": "GB", "city": "London", "zip": "N1 9GU"},
        "email_marketing_consent": consent,
        "sms_marketing_consent": {**consent, "consent_collected_from": "SHOPIFY"},
    }
    return (str(body["id"]), created_at, updated_at, body)


def order_record(n: int, updated_at: datetime, source_name: str = "web", cancelled: bool = False) -> tuple:
    created_at = DAY0 + timedelta(hours=n)
    order_id = 5000000000 + n
    line_items = [
        {
            "id": order_id * 10 + k,
            "product_id": 8000000000 + k,
            "variant_id": 9000000000 + k,
            "sku": f"SKU-{k}",
            "title": f"Chair {k}",
            "quantity": k,
            "price": f"{100 + k}.00",
        }
        for k in (1, 2)
    ]
    refunds = []
    if n % 2 == 0:
        refunds = [
            {
                "id": order_id * 100,
                "created_at": iso(created_at + timedelta(days=3)),
                "refund_line_items": [
                    {
                        "id": order_id * 1000,
                        "line_item_id": line_items[0]["id"],
                        "quantity": 1,
                        "subtotal": "101.00",
                    }
                ],
                "transactions": [{"id": order_id * 10000, "amount": "101.00", "kind": "refund"}],
            }
        ]
    body = {
        "id": order_id,
        "name": f"#{1000 + n}",
        "order_number": 1000 + n,
        "email": f"person{n}@example.com",
        "phone": f"+4420790000{n:02d}",
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "processed_at": iso(created_at),
        "cancelled_at": iso(created_at + timedelta(hours=1)) if cancelled else None,
        "source_name": source_name,
        "location_id": 70001 if source_name == "pos" else None,
        "total_price": "303.00",
        "subtotal_price": "303.00",
        "total_discounts": "0.00",
        "currency": "GBP",
        "financial_status": "partially_refunded" if refunds else "paid",
        "landing_site": "/chairs",
        "referring_site": "https://www.google.com/",
        "note_attributes": [{"name": "gift", "value": "no"}],
        "customer": {
            "id": 6000000000 + n,
            "email": f"person{n}@example.com",
            "phone": None,
            "first_name": f"First{n}",
            "last_name": f"Last{n}",
        },
        "line_items": line_items,
        "refunds": refunds,
    }
    return (str(order_id), created_at, updated_at, body)


def product_record(n: int, updated_at: datetime) -> tuple:
    created_at = DAY0 + timedelta(hours=n)
    body = {
        "id": 8000000000 + n,
        "title": f"Chair {n}",
        "product_type": "Chairs",
        "vendor": "Home Co",
        "status": "active",
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "variants": [
            {
                "id": 9000000000 + n * 10 + k,
                "product_id": 8000000000 + n,
                "sku": f"SKU-{n}-{k}",
                "price": f"{100 + k}.00",
                "inventory_quantity": k,
            }
            for k in (1, 2)
        ],
    }
    return (str(body["id"]), created_at, updated_at, body)


def checkout_record(n: int, updated_at: datetime) -> tuple:
    created_at = DAY0 + timedelta(hours=n)
    body = {
        "id": 4000000000 + n,
        "token": f"tok{n}",
        "email": f"person{n}@example.com",
        "phone": None,
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "completed_at": None,
        "total_price": "101.00",
        "currency": "GBP",
        "landing_site": "/sofas",
        "customer": {"id": 6000000000 + n, "email": f"person{n}@example.com"},
        "line_items": [
            {
                "product_id": 8000000001,
                "variant_id": 9000000001,
                "sku": "SKU-1",
                "title": "Chair 1",
                "quantity": 1,
                "price": "101.00",
            }
        ],
    }
    return (str(body["id"]), created_at, updated_at, body)


FACTORIES = {
    "customers": customer_record,
    "orders": order_record,
    "products": product_record,
    "checkouts": checkout_record,
}


def shop_world(world_dir, n: int = 7):
    """n records per resource; record k was last updated on day k."""
    make_world(world_dir)
    for resource, factory in FACTORIES.items():
        add_records(
            world_dir, "shopify", resource, [factory(k, DAY0 + timedelta(days=k)) for k in range(1, n + 1)]
        )
    return world_dir


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture()
def shop(tmp_path):
    world_dir = shop_world(tmp_path / "world")
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        with httpx.Client(base_url=f"{base}/shopify", headers={"X-Shopify-Access-Token": TOKEN}) as client:
            yield client


def root(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def ids(response) -> list[int]:
    return [record["id"] for record in next(iter(response.json().values()))]


def follow(client, response, rel="next"):
    return client.get(response.links[rel]["url"])


# -- auth --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"X-Shopify-Access-Token": "shpat_wrong"}])
def test_a_missing_or_wrong_token_is_answered_401_as_shopify_does(shop, headers):
    response = httpx.get(f"{root(shop)}/admin/api/{VERSION}/customers.json", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"errors": INVALID_TOKEN_TEXT}


INVALID_TOKEN_TEXT = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def test_client_credentials_grant_issues_a_token_that_reads_records(shop):
    creds = CREDENTIALS["shopify"]
    grant = httpx.post(
        f"{root(shop)}/admin/oauth/access_token",
        data={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "grant_type": "client_credentials",
        },
    )
    assert grant.status_code == 200
    assert grant.json()["expires_in"] == 86399
    token = grant.json()["access_token"]
    response = httpx.get(
        f"{root(shop)}/admin/api/{VERSION}/products.json", headers={"X-Shopify-Access-Token": token}
    )
    assert response.status_code == 200 and len(ids(response)) == 7


def test_the_grant_refuses_a_wrong_secret_and_accepts_json(shop):
    creds = CREDENTIALS["shopify"]
    wrong = httpx.post(
        f"{root(shop)}/admin/oauth/access_token",
        json={"client_id": creds["client_id"], "client_secret": "nope", "grant_type": "client_credentials"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    right = httpx.post(
        f"{root(shop)}/admin/oauth/access_token",
        json={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "grant_type": "client_credentials",
        },
    )
    assert right.status_code == 200 and right.json()["access_token"].startswith("shpat_")


def test_an_issued_token_expires_after_its_lifetime(shop, monkeypatch):
    monkeypatch.setattr(shopify_emulator, "TOKEN_LIFETIME_SECONDS", 0)
    creds = CREDENTIALS["shopify"]
    token = httpx.post(
        f"{root(shop)}/admin/oauth/access_token",
        data={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "grant_type": "client_credentials",
        },
    ).json()["access_token"]
    response = httpx.get(
        f"{root(shop)}/admin/api/{VERSION}/products.json", headers={"X-Shopify-Access-Token": token}
    )
    assert response.status_code == 401


# -- lists, paging and its restrictions --------------------------------------------------------------------
def test_paging_by_link_header_returns_every_record_once_with_previous_links(shop):
    first = shop.get(f"/admin/api/{VERSION}/customers.json", params={"limit": 3})
    assert first.status_code == 200 and "previous" not in first.links
    second = follow(shop, first)
    third = follow(shop, second)
    assert ids(first) + ids(second) + ids(third) == [6000000000 + k for k in range(1, 8)]
    assert "next" not in third.links
    assert ids(follow(shop, third, "previous")) == ids(second)
    assert ids(follow(shop, second, "previous")) == ids(first)


def test_a_request_with_page_info_may_not_add_filters(shop):
    first = shop.get(f"/admin/api/{VERSION}/orders.json", params={"limit": 2, "status": "any"})
    next_url = httpx.URL(first.links["next"]["url"])
    refused = shop.get(next_url.copy_add_param("status", "any"))
    assert refused.status_code == 400
    assert refused.json() == {"errors": {"status": "status cannot be passed when page_info is present."}}
    allowed = shop.get(next_url.copy_set_param("limit", "5").copy_add_param("fields", "id"))
    assert allowed.status_code == 200 and all(set(r) == {"id"} for r in allowed.json()["orders"])


def test_page_info_follows_the_original_filters(shop):
    since = iso(DAY0 + timedelta(days=3))
    first = shop.get(
        f"/admin/api/{VERSION}/customers.json",
        params={"limit": 2, "updated_at_min": since, "order": "updated_at asc"},
    )
    rest = follow(shop, first)
    last = follow(shop, rest)
    assert ids(first) + ids(rest) + ids(last) == [6000000003, 6000000004, 6000000005, 6000000006, 6000000007]


def test_a_tampered_page_info_is_refused(shop):
    response = shop.get(f"/admin/api/{VERSION}/customers.json", params={"page_info": "not-a-cursor"})
    assert response.status_code == 400 and response.json() == {"errors": "page_info - Invalid value."}


def test_limit_above_250_is_refused_with_shopify_errors_body(shop):
    response = shop.get(f"/admin/api/{VERSION}/customers.json", params={"limit": 251})
    assert response.status_code == 400 and "limit" in response.json()["errors"]
    assert len(ids(shop.get(f"/admin/api/{VERSION}/customers.json", params={"limit": 250}))) == 7


def test_default_page_size_is_50(tmp_path):
    world_dir = make_world(tmp_path / "world")
    add_records(world_dir, "shopify", "products", [product_record(k, DAY0) for k in range(60)])
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        response = httpx.get(
            f"{base}/shopify/admin/api/{VERSION}/products.json", headers={"X-Shopify-Access-Token": TOKEN}
        )
    assert len(ids(response)) == 50 and "next" in response.links


# -- filters -----------------------------------------------------------------------------------------------
def test_updated_at_min_is_inclusive_and_updated_at_max_bounds(shop):
    response = shop.get(
        f"/admin/api/{VERSION}/products.json",
        params={
            "updated_at_min": iso(DAY0 + timedelta(days=2)),
            "updated_at_max": iso(DAY0 + timedelta(days=4)),
        },
    )
    assert ids(response) == [8000000002, 8000000003, 8000000004]


def test_orders_show_open_ones_unless_status_any(tmp_path):
    world_dir = make_world(tmp_path / "world")
    add_records(
        world_dir,
        "shopify",
        "orders",
        [
            order_record(1, DAY0),
            order_record(2, DAY0, cancelled=True),
            order_record(3, DAY0, source_name="pos"),
        ],
    )
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        client = httpx.Client(base_url=f"{base}/shopify", headers={"X-Shopify-Access-Token": TOKEN})
        assert ids(client.get(f"/admin/api/{VERSION}/orders.json")) == [5000000001, 5000000003]
        assert len(ids(client.get(f"/admin/api/{VERSION}/orders.json", params={"status": "any"}))) == 3
        count = client.get(f"/admin/api/{VERSION}/orders/count.json", params={"status": "any"})
        assert count.json() == {"count": 3}


def test_since_id_ids_created_at_min_and_fields(shop):
    path = f"/admin/api/{VERSION}/customers.json"
    assert ids(shop.get(path, params={"since_id": 6000000005})) == [6000000006, 6000000007]
    assert ids(shop.get(path, params={"ids": "6000000002,6000000004"})) == [6000000002, 6000000004]
    assert ids(shop.get(path, params={"created_at_min": iso(DAY0 + timedelta(hours=6))})) == [
        6000000006,
        6000000007,
    ]
    assert shop.get(path, params={"fields": "id,email", "limit": 1}).json()["customers"] == [
        {"id": 6000000001, "email": "person1@example.com"}
    ]


def test_order_by_updated_at_desc(shop):
    response = shop.get(
        f"/admin/api/{VERSION}/checkouts.json", params={"order": "updated_at desc", "limit": 3}
    )
    assert ids(response) == [4000000007, 4000000006, 4000000005]
    assert ids(follow(shop, response)) == [4000000004, 4000000003, 4000000002]


def test_unknown_resources_and_ids_get_shopify_404(shop):
    for path in (f"/admin/api/{VERSION}/widgets.json", f"/admin/api/{VERSION}/customers/1.json", "/nope"):
        response = shop.get(path)
        assert response.status_code == 404 and response.json() == {"errors": "Not Found"}
    one = shop.get(f"/admin/api/{VERSION}/customers/6000000002.json")
    assert one.json()["customer"]["email"] == "person2@example.com"


# -- throttling --------------------------------------------------------------------------------------------
def test_every_answer_reports_the_bucket_and_a_full_bucket_answers_429(tmp_path):
    world_dir = shop_world(tmp_path / "world", n=1)
    # scale 0.1: a bucket of 4 requests leaking 0.2/s, so the 5th quick request overflows it.
    with sandbox_in_thread(world_dir, Limits(scale=0.1)) as base:
        client = httpx.Client(base_url=f"{base}/shopify", headers={"X-Shopify-Access-Token": TOKEN})
        answers = [client.get(f"/admin/api/{VERSION}/customers.json") for _ in range(6)]
    statuses = [a.status_code for a in answers]
    assert statuses[:4] == [200, 200, 200, 200] and 429 in statuses[4:]
    assert answers[0].headers["X-Shopify-Shop-Api-Call-Limit"] == "1/4"
    throttled = answers[statuses.index(429)]
    assert throttled.headers["Retry-After"] == "2.0"
    assert throttled.json() == {
        "errors": "Exceeded 2 calls per second for api client. Reduce request rates to "
        "resume uninterrupted service."
    }


def test_requests_are_recorded_per_route(shop):
    shop.get(f"/admin/api/{VERSION}/orders.json", params={"status": "any"})
    log = httpx.get(root(shop).removesuffix("/shopify") + "/_sandbox/requests").json()["requests"]
    assert {
        "vendor": "shopify",
        "method": "GET",
        "route": "/admin/api/{version}/orders.json",
        "count": 1,
    } in log
