"""The Klaviyo HTTP edge: the client every resource shares and the campaign reader (one call per channel)."""

from __future__ import annotations

from collections.abc import Iterator

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from ingestion.http import GuardedLinkPaginator, VendorSession
from ingestion.klaviyo.settings import PAGE_SIZES

REFUSED = {
    401: "sources.klaviyo.api_key (a private API key)",
    403: "the private key's scopes: profiles:read, lists:read, metrics:read, events:read, campaigns:read",
}


def klaviyo_session() -> VendorSession:
    """The source's one session: every resource shares its pacing, retries and request counts."""
    return VendorSession("klaviyo", refused=REFUSED)


def auth(api_key: str) -> APIKeyAuth:
    """Klaviyo's private-key header: `Authorization: Klaviyo-API-Key <key>` (kept out of logs by dlt)."""
    return APIKeyAuth(name="Authorization", api_key=f"Klaviyo-API-Key {api_key}", location="header")


def headers(revision: str) -> dict[str, str]:
    return {"revision": revision, "accept": "application/vnd.api+json"}


def next_link_paginator() -> GuardedLinkPaginator:
    # Klaviyo puts the next page's full URL, cursor included, in links.next; absent on the last page.
    return GuardedLinkPaginator("klaviyo", next_url_path="links.next")


def campaigns_filter(channel: str, updated_after: str) -> str:
    return f"and(equals(messages.channel,'{channel}'),greater-than(updated_at,{updated_after}))"


def fetch_campaigns(
    base_url: str,
    api_key: str,
    revision: str,
    channels: tuple[str, ...],
    updated_after: str,
    session: VendorSession,
) -> Iterator[list[dict]]:
    """Pages of campaigns changed after `updated_after`, channel by channel."""
    client = RESTClient(
        base_url=base_url,
        session=session,
        headers=headers(revision),
        auth=auth(api_key),
        paginator=next_link_paginator(),
        data_selector="data",
    )
    for channel in channels:
        params = {"filter": campaigns_filter(channel, updated_after), "page[size]": PAGE_SIZES["campaigns"]}
        yield from client.paginate("/api/campaigns/", params=params)
