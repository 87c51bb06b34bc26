"""The Shopify dlt source against the emulator: exact loads, incremental runs that fetch only the change,
token refresh, clear auth failures, throttled runs that still complete, and the staging models on top."""

from __future__ import annotations

import json
from datetime import timedelta

import dlt
import duckdb
import httpx
import pytest

from cdp.paths import warehouse_path
from ingestion.pipeline import make_pipeline
from ingestion.shopify import shopify_source
from ingestion.shopify.helpers import ShopifyAdminClient, ShopifyAuthError
from sandbox.credentials import dlt_environment
from sandbox.emulators import shopify as shopify_emulator
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import CREDENTIALS, add_records
from tests.sandbox.test_shopify_emulator import (
    DAY0,
    FACTORIES,
    VERSION,
    customer_record,
    order_record,
    product_record,
    shop_world,
)

N = 7  # records per resource in the hand-made shop


@pytest.fixture()
def world_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))
    return shop_world(tmp_path / "world", n=N)


@pytest.fixture()
def sandbox(world_dir, monkeypatch):
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        set_dlt_env(monkeypatch, world_dir, base)
        yield base


def set_dlt_env(monkeypatch, world_dir, base: str) -> None:
    world = json.loads((world_dir / "world.json").read_text())
    for key, value in dlt_environment(world, base).items():
        monkeypatch.setenv(key, value)


def requests_by_route(base: str) -> dict[str, int]:
    log = httpx.get(f"{base}/_sandbox/requests").json()["requests"]
    return {entry["route"]: entry["count"] for entry in log if entry["vendor"] == "shopify"}


def reset_requests(base: str) -> None:
    httpx.delete(f"{base}/_sandbox/requests")


def warehouse_rows(sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path())) as con:
        return con.execute(sql).fetchall()


def store_rows(world_dir, resource: str) -> list[tuple]:
    path = world_dir / "shopify" / f"{resource}.parquet"
    return duckdb.sql(
        f"select cast(id as bigint), updated_at from read_parquet('{path}') order by 1"
    ).fetchall()


def assert_warehouse_equals_store(world_dir) -> None:
    for resource in FACTORIES:
        loaded = warehouse_rows(f"select id, updated_at from shopify.{resource} order by id")
        assert loaded == store_rows(world_dir, resource), resource
    # Child tables: exactly the nested items of the current bodies, none left over from older versions.
    orders = [
        json.loads(b)
        for (b,) in duckdb.sql(
            f"select body from read_parquet('{world_dir / 'shopify' / 'orders.parquet'}')"
        ).fetchall()
    ]
    expected_items = sorted(item["id"] for order in orders for item in order["line_items"])
    assert [
        r[0] for r in warehouse_rows("select id from shopify.orders__line_items order by id")
    ] == expected_items
    expected_refunds = sorted(refund["id"] for order in orders for refund in order["refunds"])
    assert [
        r[0] for r in warehouse_rows("select id from shopify.orders__refunds order by id")
    ] == expected_refunds


def run(page_size: int = 3):
    pipeline = make_pipeline("shopify")
    info = pipeline.run(shopify_source(page_size=page_size))
    return pipeline, info


def loaded_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {table: n for table, n in counts.items() if not table.startswith("_dlt")}


@pytest.mark.slow
def test_full_then_incremental_loads_equal_the_store_and_fetch_only_the_change(
    sandbox, world_dir, monkeypatch
):
    # The world clock sits after the first customers' creation and before the two added below, so the
    # deletion check's counts (customers created since the last check) agree and no id listing runs.
    monkeypatch.setenv("CDP_AS_OF", (DAY0 + timedelta(hours=N + 0.5)).isoformat())
    pipeline, _ = run(page_size=3)
    assert loaded_rows(pipeline)["customers"] == N
    assert_warehouse_equals_store(world_dir)
    routes = requests_by_route(sandbox)
    # 7 records in pages of 3: three pages per resource, one token grant.
    assert {r: routes[f"/admin/api/{{version}}/{r}.json"] for r in FACTORIES} == dict.fromkeys(FACTORIES, 3)
    assert routes["/admin/oauth/access_token"] == 1

    # Nothing changed: one request per resource and two customer counts (the deletion check), nothing loaded.
    reset_requests(sandbox)
    pipeline, _ = run(page_size=3)
    assert loaded_rows(pipeline) == {}
    assert requests_by_route(sandbox)["/admin/api/{version}/customers/count.json"] == 2
    assert sum(requests_by_route(sandbox).values()) == len(FACTORIES) + 1 + 2

    # Change two customers and one order (later updated_at), add two customers and a product.
    later = DAY0 + timedelta(days=30)
    changed_customers = [customer_record(k, DAY0 + timedelta(days=k)) for k in range(1, N + 1)]
    for k in (2, 5):
        changed_customers[k - 1] = customer_record(k, later)
        changed_customers[k - 1][3]["email"] = f"changed{k}@example.com"
    changed_customers += [customer_record(k, later + timedelta(hours=k)) for k in (8, 9)]
    add_records(world_dir, "shopify", "customers", changed_customers)
    orders = [order_record(k, DAY0 + timedelta(days=k)) for k in range(1, N + 1)]
    orders[3] = order_record(4, later, source_name="pos")
    orders[3][3]["refunds"] = []  # the refund was reversed: its child rows must disappear too
    add_records(world_dir, "shopify", "orders", orders)
    products = [product_record(k, DAY0 + timedelta(days=k)) for k in range(1, N + 2)]
    products[-1] = product_record(N + 1, later)
    add_records(world_dir, "shopify", "products", products)

    reset_requests(sandbox)
    pipeline, _ = run(page_size=3)
    rows = loaded_rows(pipeline)
    assert (rows["customers"], rows["orders"], rows["products"]) == (4, 1, 1)
    assert "checkouts" not in rows
    routes = requests_by_route(sandbox)
    # customers: the boundary record + 4 changed = 5 records -> 2 pages; the others fit in one page each.
    assert routes["/admin/api/{version}/customers.json"] == 2
    assert routes["/admin/api/{version}/orders.json"] == 1
    assert routes["/admin/api/{version}/products.json"] == 1
    assert routes["/admin/api/{version}/checkouts.json"] == 1
    assert_warehouse_equals_store(world_dir)
    assert warehouse_rows("select email from shopify.customers where id = 6000000002") == [
        ("changed2@example.com",)
    ]

    # The staging models compile over this warehouse and their tests pass.
    result = dbt_build("staging.shopify", world_dir.parent, monkeypatch)
    assert result.success, result.exception
    with duckdb.connect(str(warehouse_path())) as con:
        channels = dict(con.execute("select order_id, channel from staging.stg_shopify__orders").fetchall())
        assert channels[5000000004] == "pos" and channels[5000000001] == "web"
        refunds = con.execute("select count(*) from staging.stg_shopify__refunds").fetchone()[0]
        assert refunds == 2  # orders 2 and 6; order 4's refund was reversed


def test_an_expired_token_is_refreshed_once(sandbox, monkeypatch):
    creds = CREDENTIALS["shopify"]
    client = ShopifyAdminClient(
        f"{sandbox}/shopify", VERSION, client_id=creds["client_id"], client_secret=creds["client_secret"]
    )
    monkeypatch.setattr(shopify_emulator, "TOKEN_LIFETIME_SECONDS", 0)
    client._current_token()  # issued already expired
    monkeypatch.setattr(shopify_emulator, "TOKEN_LIFETIME_SECONDS", 86399)
    pages = list(client.pages("customers", {"limit": 250}))
    assert len(pages[0]) == N
    assert requests_by_route(sandbox)["/admin/oauth/access_token"] == 2


def test_a_token_that_stays_refused_fails_clearly(sandbox, monkeypatch):
    creds = CREDENTIALS["shopify"]
    monkeypatch.setattr(shopify_emulator, "TOKEN_LIFETIME_SECONDS", 0)
    client = ShopifyAdminClient(
        f"{sandbox}/shopify", VERSION, client_id=creds["client_id"], client_secret=creds["client_secret"]
    )
    with pytest.raises(ShopifyAuthError, match="Invalid API key or access token"):
        list(client.pages("customers", {}))


def test_a_wrong_static_token_fails_without_leaking_it(sandbox):
    client = ShopifyAdminClient(f"{sandbox}/shopify", VERSION, access_token="shpat_secret_value")
    with pytest.raises(ShopifyAuthError) as failure:
        list(client.pages("orders", {"status": "any"}))
    assert "shpat_secret_value" not in str(failure.value)


def test_a_static_token_alone_reads_the_shop(sandbox):
    client = ShopifyAdminClient(
        f"{sandbox}/shopify", VERSION, access_token=CREDENTIALS["shopify"]["access_token"]
    )
    assert len(next(client.pages("products", {"limit": 250}))) == N
    assert "/admin/oauth/access_token" not in requests_by_route(sandbox)


def test_missing_credentials_are_a_clear_error_at_the_first_request():
    client = ShopifyAdminClient("http://127.0.0.1:1/shopify", VERSION)  # building it needs no credentials
    with pytest.raises(ValueError, match="client_id"):
        next(client.pages("customers", {"limit": 1}))


@pytest.mark.slow
def test_a_throttled_run_retries_after_429_and_loads_everything(world_dir, monkeypatch):
    # scale 0.5: a bucket of 20 leaking 1/s; 4 resources x 7 pages of one record overflow it.
    with sandbox_in_thread(world_dir, Limits(scale=0.5)) as base:
        set_dlt_env(monkeypatch, world_dir, base)
        pipeline, _ = run(page_size=1)
        list_requests = sum(n for route, n in requests_by_route(base).items() if route.endswith(".json"))
    assert loaded_rows(pipeline)["orders"] == N
    assert_warehouse_equals_store(world_dir)
    assert list_requests > len(FACTORIES) * N  # some answers were 429 and were retried
