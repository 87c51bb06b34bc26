"""HubSpot I/O and the paging logic around it.

The only module that talks HTTP. Requests go through the shared vendor session (ingestion/http.py): paced
under HubSpot's search limit (about 5 requests per second), retried on 429 and 5xx honouring Retry-After,
and failing at once, naming the setting, when HubSpot refuses the token.

Search never pages past its 10,000th result, so `changed_records` reads a time window in slices: when a
query reaches the cap it starts again from the last modification time it saw, and when 10,000 records share
one instant it walks that instant by object id. Records are never skipped and never yielded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import requests

from ingestion.http import (
    CursorGuard,
    SchemaDriftError,
    TransientError,
    VendorSession,
    default_problem,
    error_text,
)
from ingestion.hubspot.settings import (
    ASSOCIATIONS_BATCH_SIZE,
    LIST_PAGE_SIZE,
    SEARCH_PAGE_SIZE,
    SEARCH_RESULT_CAP,
)

SearchPage = Callable[[list[dict], str, int], dict]
"""(filters, sort property, after) -> one search answer `{"total", "results", "paging"}`."""


# -- pure helpers ------------------------------------------------------------------------------------


def to_epoch_ms(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(round(moment.timestamp() * 1000))


def parse_time(text: str | None) -> datetime | None:
    """HubSpot's ISO timestamps (`2026-01-02T03:04:05.678Z`) as aware datetimes."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def modified_ms(result: dict) -> int:
    return to_epoch_ms(parse_time(result["updatedAt"]))


def to_row(result: dict, associations: dict[str, list[dict]] | None = None, table: str = "objects") -> dict:
    """A search result as loaded: vendor field names, timestamps parsed, associations as nested lists."""
    row = {
        "id": str(result["id"]),
        "properties": result.get("properties") or {},
        "createdAt": _timestamp(result, "createdAt", table),
        "updatedAt": _timestamp(result, "updatedAt", table),
        "archived": _boolean(result, "archived", table),
    }
    return {**row, **(associations or {})}


def _drift(table: str, column: str, value, expected: str) -> SchemaDriftError:
    return SchemaDriftError(
        f"Schema drift in table hubspot.{table}, column {column}: HubSpot sent {str(value)[:80]!r} where "
        f"{expected} was expected. The table's contract freezes column types because the incremental cursor "
        f"and the staging models depend on it. What to do: check HubSpot's changelog for {column}; if the "
        f"change is intended, convert it in ingestion/hubspot/helpers.py (to_row) and rerun. The rows before "
        f"this record are loaded and the rerun resumes from them."
    )


def _timestamp(result: dict, column: str, table: str) -> datetime | None:
    try:
        return parse_time(result.get(column))
    except (TypeError, ValueError, AttributeError):
        raise _drift(table, column, result.get(column), "an ISO 8601 timestamp") from None


def _boolean(result: dict, column: str, table: str) -> bool:
    value = result.get(column, False)
    if not isinstance(value, bool):
        raise _drift(table, column, value, "true or false")
    return value


def association_rows(batch_answer: dict) -> dict[str, list[dict]]:
    """v4 batch-read answer -> from id -> [{to_object_id, association_type_id, category}]."""
    links: dict[str, list[dict]] = {}
    for result in batch_answer.get("results") or []:
        rows = links.setdefault(str(result["from"]["id"]), [])
        for target in result.get("to") or []:
            for kind in target.get("associationTypes") or [{}]:
                rows.append(
                    {
                        "to_object_id": str(target["toObjectId"]),
                        "association_type_id": kind.get("typeId"),
                        "category": kind.get("category"),
                    }
                )
    return links


def boundary(rows: Iterable[dict], previous: dict | None) -> dict | None:
    """The latest modification instant loaded and the ids loaded at it (the next run's GTE start).

    The next run's search starts at that instant again (GTE, so a record changed in the same millisecond
    is not missed); the ids let it skip the records it already has.
    """
    at, ids = (previous or {}).get("at"), set((previous or {}).get("ids") or [])
    for row in rows:
        moment = to_epoch_ms(row["updatedAt"])
        if at is None or moment > at:
            at, ids = moment, {row["id"]}
        elif moment == at:
            ids.add(row["id"])
    return None if at is None else {"at": at, "ids": sorted(ids)}


def _next_after(answer: dict) -> int | None:
    after = ((answer.get("paging") or {}).get("next") or {}).get("after")
    return int(after) if after not in (None, "") else None


def _reaches_cap(next_after: int) -> bool:
    return next_after + SEARCH_PAGE_SIZE > SEARCH_RESULT_CAP


# -- the window-slicing search -----------------------------------------------------------------------


def changed_records(
    search: SearchPage, modified: str, since_ms: int, already_loaded: Iterable[str] = ()
) -> Iterator[list[dict]]:
    """Pages of the records modified at or after `since_ms`, oldest first, each record once.

    `already_loaded`: ids modified exactly at `since_ms` that an earlier run loaded (left out).
    """
    window_start, skip = since_ms, set(already_loaded)
    while True:
        # The latest instant seen in this window and the ids yielded (or skipped) at it.
        last_ms, ids_at_last = window_start, set(skip)
        after = 0
        guard = CursorGuard("hubspot", f"search on {modified} >= {window_start}")
        while True:
            answer = search([_filter(modified, "GTE", window_start)], modified, after)
            results = answer.get("results") or []
            fresh = [r for r in results if not (modified_ms(r) == window_start and str(r["id"]) in skip)]
            for result in results:
                moment = modified_ms(result)
                if moment != last_ms:
                    last_ms, ids_at_last = moment, set()
                ids_at_last.add(str(result["id"]))
            if fresh:
                yield fresh
            next_after = _next_after(answer)
            if next_after is None:
                return
            if _reaches_cap(next_after):
                break
            guard.follow(next_after)
            after = next_after
        if last_ms == window_start:
            # The whole capped window shares one instant: narrowing by time cannot help, so page by id.
            yield from _records_at_instant(search, modified, window_start, ids_at_last)
            window_start, skip = window_start + 1, set()
        else:
            window_start, skip = last_ms, ids_at_last


def _records_at_instant(
    search: SearchPage, modified: str, instant_ms: int, skip: set[str]
) -> Iterator[list[dict]]:
    """Every record modified exactly at `instant_ms` except `skip`, walking ids upwards past the cap."""
    last_id = highest_id = 0
    while True:
        after = 0
        guard = CursorGuard("hubspot", f"search at {modified} = {instant_ms}")
        while True:
            # The id bound changes only between queries: paging a query keeps its filters unchanged.
            filters = [_filter(modified, "EQ", instant_ms), _filter("hs_object_id", "GT", last_id)]
            answer = search(filters, "hs_object_id", after)
            results = answer.get("results") or []
            fresh = [r for r in results if str(r["id"]) not in skip]
            if fresh:
                yield fresh
            highest_id = max([highest_id, *(int(r["id"]) for r in results)])
            next_after = _next_after(answer)
            if next_after is None:
                return
            if _reaches_cap(next_after):
                break
            guard.follow(next_after)
            after = next_after
        last_id = highest_id


def _filter(prop: str, operator: str, value: int) -> dict:
    return {"propertyName": prop, "operator": operator, "value": str(value)}


# -- HTTP --------------------------------------------------------------------------------------------


REFUSED = {
    401: "sources.hubspot.access_token (a private app token, or expired)",
    403: "the private app's scopes (crm.objects.<type>.read for each object read)",
}


class HubSpotRequestError(RuntimeError):
    pass


def hubspot_problem(response: requests.Response) -> TransientError | None:
    """HubSpot's DAILY limit does not clear in seconds: ask for a day, which fails the run with that reason."""
    if response.status_code == 429:
        try:
            policy = response.json().get("policyName")
        except ValueError:
            policy = None
        if policy == "DAILY":
            return TransientError("daily request limit reached (429 DAILY)", 24 * 3600.0)
    return default_problem(response)


def hubspot_error_text(response: requests.Response) -> str:
    """HubSpot's error message, and for a 403 the scopes it names (MISSING_SCOPES lists them in its errors)."""
    text = error_text(response)
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return text
    scopes = sorted({
        scope
        for item in errors if isinstance(item, dict) and isinstance(item.get("context"), dict)
        for key in ("requiredGranularScopes", "requiredScopes")
        for scope in item["context"].get(key) or []
    })  # fmt: skip
    return f"{text} Missing scope: {', '.join(scopes)}." if scopes else text


def hubspot_session() -> VendorSession:
    """The one session of the source (object reads, associations, owners, pipelines)."""
    return VendorSession("hubspot", refused=REFUSED, classify=hubspot_problem, describe_error=hubspot_error_text)


class HubSpotApi:
    """The two calls the object resources make; owners and pipelines go through dlt's rest_api."""

    def __init__(self, base_url: str, access_token: str, session: VendorSession | None = None):
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        self._session = session or hubspot_session()

    def search_page(self, object_type: str, properties: Iterable[str]) -> SearchPage:
        def search(filters: list[dict], sort_property: str, after: int) -> dict:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": sort_property, "direction": "ASCENDING"}],
                "properties": list(properties),
                "limit": SEARCH_PAGE_SIZE,
            }
            if after:
                body["after"] = str(after)
            return self._post(f"/crm/v3/objects/{object_type}/search", body)

        return search

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[dict]]:
        """from id -> its associations to `to_type`, read in batches through the v4 API."""
        links: dict[str, list[dict]] = {}
        for start in range(0, len(ids), ASSOCIATIONS_BATCH_SIZE):
            inputs = [{"id": object_id} for object_id in ids[start : start + ASSOCIATIONS_BATCH_SIZE]]
            # 207 means some inputs have no associations: not an error for us.
            answer = self._post(f"/crm/v4/associations/{from_type}/{to_type}/batch/read", {"inputs": inputs})
            links.update(association_rows(answer))
        return links

    def archived(self, object_type: str) -> Iterator[list[dict]]:
        """Pages of the archived records of `object_type` (the list endpoint with `archived=true`; search
        cannot see them). HubSpot keeps an archived record restorable for 90 days, then drops it from this
        listing too, so a caller keeps what it saw."""
        params: dict[str, Any] = {"archived": "true", "limit": LIST_PAGE_SIZE, "properties": "hs_object_id"}
        guard = CursorGuard("hubspot", f"archived {object_type}")
        while True:
            path = f"/crm/v3/objects/{object_type}"
            response = self._session.get(f"{self.base_url}{path}", params=params, headers=self._headers)
            if response.status_code != 200:
                raise HubSpotRequestError(
                    f"HubSpot answered {response.status_code} for GET {path}?archived=true: {error_text(response)}"
                )
            answer = response.json()
            yield answer.get("results") or []
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if after in (None, ""):
                return
            guard.follow(after)
            params["after"] = after

    def _post(self, path: str, body: dict) -> dict:
        response = self._session.post(f"{self.base_url}{path}", json=body, headers=self._headers)
        if response.status_code not in (200, 207):
            raise HubSpotRequestError(f"HubSpot answered {response.status_code} for POST {path}: {error_text(response)}")
        return response.json()
