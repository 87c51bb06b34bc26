"""dlt source for the Shopify Admin REST API: customers, orders (line items, refunds), products (variants)
and abandoned checkouts, each incremental on `updated_at` and merged on `id`.

Hand-written resources rather than `rest_api`: the source obtains its token by the client-credentials grant
and refreshes it once on a 401, which rest_api's auth classes do not do.

Deleted customers simply disappear from Shopify's listings, so no incremental read can see them. The
`customer_listings` resource reconciles ids, only when the counts say something was deleted: each run asks
`customers/count.json` twice (all customers, and those created since the last check); when all is not the
last check's count plus the new ones, a customer was deleted, and the run lists every id
(`customers.json?fields=id&limit=250`, paged) into `customer_listings` (id, listed_at; merged on id).
Staging reads a customer created before the latest listing and missing from it as deleted
(stg_shopify__deleted_records). An incremental run adds two requests, plus one per 250 customers on a run
after a deletion. The first run only records the count.
"""

from __future__ import annotations

from collections.abc import Iterator

import dlt
from dlt.sources import DltResource

from cdp.clock import as_of
from ingestion.pipeline import deferred_failure, latest_version_wins
from ingestion.shopify.helpers import (
    ShopifyAdminClient,
    check_page_size,
    parse_start_date,
    with_parent_ids,
    with_parsed_cursor,
)
from ingestion.shopify.settings import API_VERSION, COLUMN_HINTS, MAX_PAGE_SIZE, RESOURCES


@dlt.source(name="shopify")
def shopify_source(
    base_url: str = dlt.config.value,
    api_version: str = API_VERSION,
    access_token: str | None = dlt.secrets.value,
    client_id: str | None = dlt.secrets.value,
    client_secret: str | None = dlt.secrets.value,
    start_date: str | None = dlt.config.value,
    page_size: int = MAX_PAGE_SIZE,
) -> list[DltResource]:
    """Read one shop. `start_date` (ISO 8601) bounds the first run; later runs read only what changed."""
    check_page_size(page_size)
    client = ShopifyAdminClient(base_url, api_version, access_token, client_id, client_secret)
    initial = parse_start_date(start_date)
    return [
        *(_resource(client, name, extra, initial, page_size) for name, extra in RESOURCES.items()),
        _customer_listings(client),
    ]


def _customer_listings(client: ShopifyAdminClient) -> DltResource:
    @dlt.resource(
        name="customer_listings",
        primary_key="id",
        write_disposition="merge",
        columns={"id": {"data_type": "bigint", "nullable": False},
                 "listed_at": {"data_type": "timestamp", "nullable": False}},
    )
    def listings() -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        checked_at = as_of()
        total = client.count("customers")
        previous = state.get("check")
        if previous is not None:
            created = client.count("customers", {"created_at_min": previous["at"]})
            if total != previous["count"] + created:
                # Oldest id first; a failure part-way loads nothing, and the next run's counts still differ.
                for page in client.pages("customers", {"limit": MAX_PAGE_SIZE, "fields": "id"}):
                    yield [{"id": int(record["id"]), "listed_at": checked_at} for record in page]
        state["check"] = {"count": total, "at": checked_at.isoformat()}

    return listings


def _resource(
    client: ShopifyAdminClient, name: str, extra_params: dict, initial, page_size: int
) -> DltResource:
    cursor = dlt.sources.incremental("updated_at", initial_value=initial)

    @dlt.resource(
        name=name,
        primary_key="id",
        write_disposition="merge",
        columns={**COLUMN_HINTS[name], **latest_version_wins("updated_at")},
    )
    def records(updated_at: dlt.sources.incremental = cursor) -> Iterator[list[dict]]:
        params = {"limit": page_size, "order": "updated_at asc", **extra_params}
        if updated_at.last_value is not None:
            # Inclusive: records sharing the last cursor value come back once and dlt drops those it saw.
            params["updated_at_min"] = updated_at.last_value.isoformat()
        # Oldest change first, so dlt's cursor covers exactly the rows yielded: a failure part-way loads them.
        with deferred_failure("shopify"):
            for page in client.pages(name, params):
                yield [with_parent_ids(name, with_parsed_cursor(record)) for record in page]

    return records
