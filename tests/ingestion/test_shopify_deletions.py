"""A customer deleted at Shopify disappears from its listings: the source notices through the counts, lists
the ids once, and staging leaves the customer out; runs without a deletion add only the two counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.dbt import build as dbt_build
from tests.helpers.worlds import add_records
from tests.ingestion.test_shopify_source import requests_by_route, reset_requests, run, warehouse_rows
from tests.sandbox.test_shopify_emulator import DAY0, customer_record

COUNT = "/admin/api/{version}/customers/count.json"
LIST = "/admin/api/{version}/customers.json"
FIRST_CHECK = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture()
def world_dir(tmp_path, monkeypatch):
    from tests.sandbox.test_shopify_emulator import shop_world

    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))
    return shop_world(tmp_path / "world", n=7)


@pytest.fixture()
def sandbox(world_dir, monkeypatch):
    from sandbox.emulators.common import Limits
    from sandbox.server import sandbox_in_thread
    from tests.ingestion.test_shopify_source import set_dlt_env

    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        set_dlt_env(monkeypatch, world_dir, base)
        yield base


def customer_created_at(n: int, created: datetime) -> tuple:
    record_id, _, updated, body = customer_record(n, created)
    return record_id, created, updated, {**body, "created_at": created.isoformat()}


@pytest.mark.slow
def test_a_deleted_customer_is_noticed_by_the_counts_and_leaves_staging(sandbox, world_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_AS_OF", FIRST_CHECK.isoformat())
    run(page_size=3)
    assert warehouse_rows("select count(*) from shopify.customers") == [(7,)]

    # At Shopify, within the next day: customer 3 is deleted and customer 8 signs up (the total stays 7).
    customers = [customer_record(k, DAY0 + timedelta(days=k)) for k in range(1, 8) if k != 3]
    customers.append(customer_created_at(8, FIRST_CHECK + timedelta(hours=5)))
    add_records(world_dir, "shopify", "customers", customers)
    monkeypatch.setenv("CDP_AS_OF", (FIRST_CHECK + timedelta(days=1)).isoformat())
    reset_requests(sandbox)
    run(page_size=3)
    routes = requests_by_route(sandbox)
    # Two counts, then the ids: 7 in pages of 250 is one page, beside the one incremental page of customers.
    assert routes[COUNT] == 2 and routes[LIST] == 2
    listed = {r[0] for r in warehouse_rows("select id from shopify.customer_listings")}
    assert listed == {6_000_000_000 + k for k in (1, 2, 4, 5, 6, 7, 8)}

    # Nothing deleted since: the counts agree and no listing runs.
    monkeypatch.setenv("CDP_AS_OF", (FIRST_CHECK + timedelta(days=2)).isoformat())
    reset_requests(sandbox)
    run(page_size=3)
    routes = requests_by_route(sandbox)
    assert routes[COUNT] == 2 and routes[LIST] == 1

    result = dbt_build("staging.shopify", tmp_path, monkeypatch)
    assert result.success, result.exception
    assert warehouse_rows("select record_id, reason from staging.stg_shopify__deleted_records") == [
        ("6000000003", "deleted")]
    live = {r[0] for r in warehouse_rows("select customer_id from staging.stg_shopify__customers")}
    assert live == {6_000_000_000 + k for k in (1, 2, 4, 5, 6, 7, 8)}
