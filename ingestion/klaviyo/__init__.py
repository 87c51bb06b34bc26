"""Klaviyo source: profiles (with subscriptions), lists, metrics, campaigns and events.

Profiles, lists, campaigns and events are read incrementally through Klaviyo's filters on their modification
time (`updated`, `updated_at`, or `datetime` for events, which never change), so a second run asks only for
what changed since the cursor kept in the pipeline state. Metrics have no such filter; there are few of
them, so each run reads them all and merges. Every table merges on Klaviyo's `id`.

Deleted profiles simply disappear from Klaviyo's listings, and Klaviyo has no count to tell when, so
`profile_listings` reconciles ids periodically: once `reconcile_days` (default 7, by the world clock) have
passed since the last reconciliation, the run lists every profile id (`GET /api/profiles/?fields[profile]=
created&page[size]=100`, paged) into `profile_listings` (id, listed_at; merged on id). Staging reads a
profile created before the latest listing and missing from it as deleted (stg_klaviyo__deleted_records). An
incremental run adds no request on other days, and one per 100 profiles on a reconciliation day; the first
run only starts the period. A suppressed profile stays and is read as any change is
(`can_receive_email_marketing` false).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import dlt
from dlt.sources import DltResource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from cdp.clock import as_of
from ingestion.klaviyo import helpers
from ingestion.klaviyo.settings import (
    CAMPAIGN_CHANNELS,
    COLUMN_HINTS,
    DEFAULT_REVISION,
    DEFAULT_START_DATE,
    PAGE_SIZES,
    RECONCILE_DAYS,
)
from ingestion.pipeline import latest_version_wins


@dlt.source(name="klaviyo")
def klaviyo_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    revision: str = DEFAULT_REVISION,
    start_date: str | None = None,
    campaign_channels: tuple[str, ...] = CAMPAIGN_CHANNELS,
    reconcile_days: float = RECONCILE_DAYS,
) -> list[DltResource]:
    """Read Klaviyo at `base_url` (https://a.klaviyo.com) with a private API key.

    start_date: ISO date-time; records changed before it are not read on the first run.
    """
    start = start_date or DEFAULT_START_DATE
    session = helpers.klaviyo_session()
    resources = rest_api_resources(rest_api_config(base_url, api_key, revision, start, session))
    campaigns = campaigns_resource(base_url, api_key, revision, start, tuple(campaign_channels), session)
    listings = profile_listings_resource(base_url, api_key, revision, float(reconcile_days), session)
    return [*resources, campaigns, listings]


def profile_listings_resource(base_url: str, api_key: str, revision: str, reconcile_days: float, session=None):
    @dlt.resource(
        name="profile_listings",
        primary_key="id",
        write_disposition="merge",
        columns={"id": {"data_type": "text", "nullable": False},
                 "listed_at": {"data_type": "timestamp", "nullable": False}},
    )
    def profile_listings() -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        now = as_of()
        last = state.get("reconciled_at")
        if last is None:
            state["reconciled_at"] = now.isoformat()
            return
        if now - datetime.fromisoformat(last) < timedelta(days=reconcile_days):
            return
        for page in helpers.fetch_profile_ids(base_url, api_key, revision, session or helpers.klaviyo_session()):
            yield [{"id": profile_id, "listed_at": now} for profile_id in page]
        state["reconciled_at"] = now.isoformat()

    return profile_listings


def rest_api_config(base_url: str, api_key: str, revision: str, start: str, session=None) -> RESTAPIConfig:
    return {
        "client": {
            "base_url": base_url,
            "session": session or helpers.klaviyo_session(),
            "headers": helpers.headers(revision),
            "auth": helpers.auth(api_key),
            "paginator": helpers.next_link_paginator(),
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"data_selector": "data"},
        },
        "resources": [
            {
                "name": "profiles",
                "columns": {**COLUMN_HINTS["profiles"], **latest_version_wins("attributes__updated")},
                "endpoint": {
                    "path": "/api/profiles/",
                    "params": {
                        "page[size]": PAGE_SIZES["profiles"],
                        "sort": "updated",
                        "additional-fields[profile]": "subscriptions",
                        # Klaviyo allows only greater-than on `updated`: records at the cursor are already in.
                        "filter": "greater-than(updated,{incremental.start_value})",
                    },
                    "incremental": {"cursor_path": "attributes.updated", "initial_value": start},
                },
            },
            {
                "name": "lists",
                "columns": {**COLUMN_HINTS["lists"], **latest_version_wins("attributes__updated")},
                "endpoint": {
                    "path": "/api/lists/",
                    "params": {
                        "page[size]": PAGE_SIZES["lists"],
                        "sort": "updated",
                        "filter": "greater-than(updated,{incremental.start_value})",
                    },
                    "incremental": {"cursor_path": "attributes.updated", "initial_value": start},
                },
            },
            {
                "name": "metrics",
                "columns": COLUMN_HINTS["metrics"],
                "endpoint": {"path": "/api/metrics/"},
            },
            {
                "name": "events",
                "columns": COLUMN_HINTS["events"],
                "endpoint": {
                    "path": "/api/events/",
                    "params": {
                        "page[size]": PAGE_SIZES["events"],
                        "sort": "datetime",
                        # greater-or-equal: an event logged late at the cursor's very second is still read;
                        # the rows already loaded at the cursor are dropped by dlt's boundary de-duplication.
                        "filter": "greater-or-equal(datetime,{incremental.start_value})",
                    },
                    "incremental": {"cursor_path": "attributes.datetime", "initial_value": start},
                },
            },
        ],
    }


def campaigns_resource(
    base_url: str, api_key: str, revision: str, start: str, channels: tuple[str, ...], session=None
):
    @dlt.resource(
        name="campaigns",
        primary_key="id",
        write_disposition="merge",
        columns={**COLUMN_HINTS["campaigns"], **latest_version_wins("attributes__updated_at")},
    )
    def campaigns(
        # dlt binds the incremental cursor (and its state) through this default: its documented idiom.
        updated_at=dlt.sources.incremental("attributes.updated_at", initial_value=start),  # noqa: B008
    ) -> Iterator[list[dict]]:
        yield from helpers.fetch_campaigns(
            base_url, api_key, revision, channels, updated_at.start_value, session or helpers.klaviyo_session()
        )

    return campaigns
