"""HubSpot CRM source: contacts, companies, deals, calls, meetings, tasks, owners and deal pipelines.

CRM objects are read through the search API sorted by their last-modified date with a GTE cursor, on the
first run and on every later one, so a run fetches only what changed since the last (plus one request per
object when nothing did). Each page's associations (deals to contacts and companies, engagements to
contacts) come from the v4 batch endpoint and land as child tables (`deals__contacts`, ...). Owners and
pipelines are small and read whole through dlt's rest_api.

Deletions and merges. Search never returns archived records, and a merged record simply stops appearing, so
the source reads both as HubSpot states them:
- merges: contacts and deals carry `hs_merged_object_ids` (the `;`-separated ids merged into the survivor,
  whose modification date moves at the merge, so the incremental search brings it); staging remaps the
  merged ids to their survivor.
- archivals: `deleted_records` lists `GET /crm/v3/objects/{contacts,deals}?archived=true` on every run (100
  a page, only `hs_object_id` asked for) and merges on (object_type, id), so a record HubSpot purges after
  its 90 days in the recycle bin stays marked. A restored record comes back through search with a later
  modification date than its `archived_at`, which staging reads as live again.
An incremental run adds one GET per 100 archived records of each of contacts and deals (at least one each:
two requests when none are archived).

Config: `sources.hubspot.base_url` (https://api.hubapi.com for the real API), `start_date` (ISO; the
sandbox sets the world's start), secret `sources.hubspot.access_token` (a private app token).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from cdp.clock import as_of
from ingestion.http import GuardedCursorPaginator, VendorSession
from ingestion.hubspot.helpers import (
    HubSpotApi,
    boundary,
    changed_records,
    hubspot_session,
    parse_time,
    to_epoch_ms,
    to_row,
)
from ingestion.hubspot.settings import (
    ARCHIVED_OBJECTS,
    OBJECT_ASSOCIATIONS,
    OBJECT_PROPERTIES,
    OWNERS_PAGE_SIZE,
    modified_property,
)
from ingestion.pipeline import deferred_failure, latest_version_wins

EPOCH = "1970-01-01T00:00:00+00:00"


@dlt.source(name="hubspot", max_table_nesting=2)
def hubspot_source(
    base_url: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    start_date: str | None = None,
) -> list[DltResource]:
    start = parse_start_date(start_date)
    session = hubspot_session()
    api = HubSpotApi(base_url, access_token, session)
    objects = [object_resource(api, object_type, start) for object_type in OBJECT_PROPERTIES]
    return [*objects, deleted_records_resource(api), *reference_resources(base_url, access_token, session)]


def parse_start_date(start_date: str | None) -> datetime:
    try:
        moment = parse_time(start_date or EPOCH)
    except ValueError:
        raise ValueError(
            f"sources.hubspot.start_date must be an ISO 8601 timestamp, got {start_date!r}"
        ) from None
    return moment.astimezone(UTC)


def object_resource(api: HubSpotApi, object_type: str, start: datetime) -> DltResource:
    properties = OBJECT_PROPERTIES[object_type]
    to_types = OBJECT_ASSOCIATIONS[object_type]
    # Property values are strings in HubSpot's API; declaring them keeps them text (no type guessing on
    # date-like strings) and creates every column even when a world has no value for it yet.
    columns = {f"properties__{name}": {"data_type": "text", "nullable": True} for name in properties}
    columns.update(latest_version_wins("updated_at"))

    def read(
        # dlt's idiom: the incremental is a default argument it binds to the resource's state.
        updated_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(  # noqa: B008
            "updatedAt", initial_value=start, range_start="closed"
        ),
    ) -> Iterator[TDataItem]:
        state = dlt.current.resource_state()
        since = updated_at.start_value or start
        since_ms = to_epoch_ms(since)
        previous = state.get("boundary")
        already_loaded = previous["ids"] if previous and previous["at"] == since_ms else []
        search = api.search_page(object_type, properties)
        # Pages come oldest first and the boundary moves with each: a failure part-way loads what was read.
        with deferred_failure("hubspot"):
            for page in changed_records(search, modified_property(object_type), since_ms, already_loaded):
                ids = [str(result["id"]) for result in page]
                links = {to_type: api.associations(object_type, to_type, ids) for to_type in to_types}
                rows = [
                    to_row(result, {to_type: links[to_type].get(str(result["id"]), []) for to_type in to_types},
                           table=object_type)
                    for result in page
                ]  # fmt: skip
                previous = boundary(rows, previous)
                state["boundary"] = previous
                yield rows

    return dlt.resource(
        read,
        name=object_type,
        primary_key="id",
        write_disposition="merge",
        columns=columns,
    )


# The warehouse's one shape for records gone at the vendor (the same in hubspot, shopify and klaviyo).
DELETED_RECORD_COLUMNS = {
    "object_type": {"data_type": "text", "nullable": False},
    "id": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "deleted_at": {"data_type": "timestamp", "nullable": True},
    "seen_at": {"data_type": "timestamp", "nullable": False},
}


def deleted_records_resource(api: HubSpotApi) -> DltResource:
    """Archived contacts and deals: (object_type, id, reason 'archived', deleted_at = archivedAt, seen_at)."""

    def read() -> Iterator[TDataItem]:
        seen_at = as_of()
        for object_type in ARCHIVED_OBJECTS:
            for page in api.archived(object_type):
                yield [
                    {
                        "object_type": object_type,
                        "id": str(result["id"]),
                        "reason": "archived",
                        "deleted_at": parse_time(result.get("archivedAt") or result.get("updatedAt")),
                        "seen_at": seen_at,
                    }
                    for result in page
                ]

    return dlt.resource(
        read,
        name="deleted_records",
        primary_key=("object_type", "id"),
        write_disposition="merge",
        columns=DELETED_RECORD_COLUMNS,
    )


def reference_resources(base_url: str, access_token: str, session: VendorSession) -> list[DltResource]:
    """Owners and deal pipelines: a few dozen rows, read whole on every run."""
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": access_token},
            "session": session,
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": "owners",
                "endpoint": {
                    "path": "crm/v3/owners",
                    "params": {"limit": OWNERS_PAGE_SIZE, "archived": "false"},
                    "data_selector": "results",
                    "paginator": GuardedCursorPaginator("hubspot", "paging.next.after", "after"),
                },
            },
            {
                # Replace, so a deleted stage or pipeline disappears from the warehouse too.
                "name": "pipelines",
                "write_disposition": "replace",
                "endpoint": {
                    "path": "crm/v3/pipelines/deals",
                    "data_selector": "results",
                    "paginator": "single_page",
                },
            },
        ],
    }
    return rest_api_resources(config)
