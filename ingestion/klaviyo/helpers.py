"""The Klaviyo HTTP edge: the client every resource shares and the campaign reader (one call per channel)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from ingestion.http import GuardedLinkPaginator, SettingError, VendorSession
from ingestion.klaviyo.settings import PAGE_SIZES

REFUSED = {
    401: "sources.klaviyo.api_key (a private API key)",
    403: "the private key's scopes: profiles:read, lists:read, metrics:read, events:read, campaigns:read",
}


# Klaviyo names each API revision by its release day, beta ones with `.pre`; anything else is a 400.
REVISION_FORMAT = re.compile(r"(\d{4}-\d{2}-\d{2})(\.pre)?")


def check_revision(revision: str) -> str:
    match = REVISION_FORMAT.fullmatch(str(revision))
    try:
        date.fromisoformat(match.group(1) if match else "")
    except ValueError:
        raise SettingError(
            f"sources.klaviyo.revision must be a Klaviyo API revision, a date such as 2026-07-15, got {revision!r}"
        ) from None
    return revision


def check_start_date(start_date: str | None) -> str | None:
    """The start date goes into Klaviyo's filters as it is: it must be a date-time Klaviyo can compare."""
    if start_date:
        try:
            datetime.fromisoformat(str(start_date))
        except ValueError:
            raise SettingError(
                f"sources.klaviyo.start_date must be an ISO 8601 date or date-time (e.g. 2024-01-01T00:00:00+00:00), "
                f"got {start_date!r}"
            ) from None
    return start_date


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


def rest_client(base_url: str, api_key: str, revision: str, session: VendorSession) -> RESTClient:
    """A client for Klaviyo's JSON:API lists: the revision header, the key, `links.next` paging, `data` items."""
    return RESTClient(
        base_url=base_url,
        session=session,
        headers=headers(revision),
        auth=auth(api_key),
        paginator=next_link_paginator(),
        data_selector="data",
    )


def fetch_campaigns(
    base_url: str,
    api_key: str,
    revision: str,
    channels: tuple[str, ...],
    updated_after: str,
    session: VendorSession,
) -> Iterator[list[dict]]:
    """Pages of campaigns changed after `updated_after`, channel by channel."""
    client = rest_client(base_url, api_key, revision, session)
    for channel in channels:
        params = {"filter": campaigns_filter(channel, updated_after), "page[size]": PAGE_SIZES["campaigns"]}
        yield from client.paginate("/api/campaigns/", params=params)


def fetch_profile_ids(base_url: str, api_key: str, revision: str, session: VendorSession) -> Iterator[list[str]]:
    """Pages of every profile id, 100 a page, asking for one small attribute only (sparse fieldset)."""
    client = rest_client(base_url, api_key, revision, session)
    params = {"page[size]": PAGE_SIZES["profiles"], "fields[profile]": "created"}
    for page in client.paginate("/api/profiles/", params=params):
        yield [str(item["id"]) for item in page]
