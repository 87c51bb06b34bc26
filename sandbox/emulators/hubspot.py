"""HubSpot CRM v3 emulator (mounted at /hubspot, standing in for https://api.hubapi.com).

Serves the world store's hubspot records with HubSpot's contract:
- `Authorization: Bearer <token>`; a missing or wrong token gets HubSpot's 401 INVALID_AUTHENTICATION body.
- Object lists `GET /crm/v3/objects/{type}` page by an opaque `after` cursor, at most 100 per page; only the
  requested properties come back (plus the ones HubSpot always adds); associations only when asked.
  `archived=true` lists the archived records instead (`archived: true`, `archivedAt`); archived and merged
  records are in no other listing, search or association. `GET .../{type}/{id}` of a merged id answers with
  the survivor, whose `hs_merged_object_ids` lists the ids merged into it.
- Search `POST /crm/v3/objects/{type}/search` filters, sorts, pages by offset with at most 200 per page and
  never past the 10,000th result; it returns no associations and has its own per-second limit.
- `POST /crm/v4/associations/{from}/{to}/batch/read`, `GET /crm/v3/owners`, `GET /crm/v3/pipelines/deals`.
- Writes (properties, contact batch upsert, task batch create): hubspot_writes.py, mounted here.
- Throttling: TEN_SECONDLY_ROLLING (190 per 10 s) on everything, SECONDLY (5 per s) on search, answered with
  HubSpot's 429 body and X-HubSpot-RateLimit-* headers plus Retry-After.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.emulators.common import EmulatorContext, RollingWindow, scaled
from sandbox.emulators.destinations import query_world_with

VENDOR = "hubspot"
OBJECT_TYPES = ("contacts", "companies", "deals", "calls", "meetings", "tasks")
LIST_PAGE_MAX = 100
SEARCH_PAGE_MAX = 200
SEARCH_RESULT_CAP = 10_000
OWNERS_PAGE_MAX = 500
BATCH_READ_MAX = 1000
MAX_FILTER_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS_TOTAL = 5, 6, 18

# HubSpot's documented allowances (Professional/Enterprise private apps).
TEN_SECONDLY_LIMIT, TEN_SECONDLY_SECONDS = 190, 10.0
SEARCH_LIMIT_PER_SECOND = 5

# HubSpot always adds these to whatever properties were asked for.
ALWAYS_RETURNED = {
    "contacts": ("hs_object_id", "createdate", "lastmodifieddate"),
    "companies": ("hs_object_id", "createdate", "hs_lastmodifieddate"),
    "deals": ("hs_object_id", "createdate", "hs_lastmodifieddate"),
}
# Engagements (calls, meetings, tasks) name their creation date hs_createdate.
ALWAYS_RETURNED_DEFAULT = ("hs_object_id", "hs_createdate", "hs_lastmodifieddate")
# What a request that names no properties gets.
DEFAULT_PROPERTIES = {
    "contacts": ("email", "firstname", "lastname"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
}

# Properties whose values live in the store's columns: filters and sorts on them compare timestamps.
TIMESTAMP_COLUMNS = {
    "createdate": "created_at",
    "hs_createdate": "created_at",
    "lastmodifieddate": "updated_at",
    "hs_lastmodifieddate": "updated_at",
}
OPERATORS = {"EQ": "=", "NEQ": "<>", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}

# HUBSPOT_DEFINED association type ids, by (from type, to type).
ASSOCIATION_TYPE_IDS = {
    ("contacts", "companies"): 279, ("companies", "contacts"): 280,
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("calls", "contacts"): 194, ("contacts", "calls"): 193,
    ("meetings", "contacts"): 200, ("contacts", "meetings"): 199,
    ("tasks", "contacts"): 204, ("contacts", "tasks"): 203,
}  # fmt: skip


class BadRequest(Exception):
    """A request HubSpot refuses with 400 VALIDATION_ERROR."""


# -- HubSpot's answers -------------------------------------------------------------------------------


def _error(status: int, message: str, category: str, **extra: Any) -> JSONResponse:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return JSONResponse({**body, **extra}, status_code=status)


def _unauthorized() -> JSONResponse:
    return _error(
        401,
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
        "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "INVALID_AUTHENTICATION",
    )


def _validation_error(message: str) -> JSONResponse:
    return _error(400, message, "VALIDATION_ERROR")


def _not_found(message: str = "Resource not found") -> JSONResponse:
    return _error(404, message, "OBJECT_NOT_FOUND")


def _rate_limited(policy: str, limit: int, retry_after: float, interval_ms: int) -> JSONResponse:
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
    }
    headers = {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
        "Retry-After": str(max(1, math.ceil(retry_after))),
    }
    return JSONResponse(body, status_code=429, headers=headers)


# -- pure helpers ------------------------------------------------------------------------------------


def modified_property(object_type: str) -> str:
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def archived_resource(object_type: str) -> str:
    """The store's file of a type's archived records (written by advance: sandbox/world/advance.py)."""
    return f"archived_{object_type}"


def returned_properties(object_type: str, requested: list[str]) -> list[str]:
    """The properties HubSpot returns for a request: the asked-for (or default) ones plus its own."""
    asked = requested or list(DEFAULT_PROPERTIES.get(object_type, ()))
    always = ALWAYS_RETURNED.get(object_type, ALWAYS_RETURNED_DEFAULT)
    return list(dict.fromkeys([*asked, *always]))


def shape_object(body: dict, properties: list[str], associations: list[str]) -> dict:
    """The record as HubSpot returns it: chosen properties only, associations only when asked for."""
    stored = body.get("properties") or {}
    shaped = {
        "id": body["id"],
        # Unknown property names are ignored, as HubSpot does; known but empty ones come back as null.
        "properties": {name: stored[name] for name in properties if name in stored},
        "createdAt": body.get("createdAt"),
        "updatedAt": body.get("updatedAt"),
        "archived": body.get("archived", False),
    }
    if shaped["archived"]:
        shaped["archivedAt"] = body.get("archivedAt")
    found = {
        kind: value
        for kind, value in (body.get("associations") or {}).items()
        if kind in associations and value.get("results")
    }
    if found:
        shaped["associations"] = found
    return shaped


def split_list_param(values: list[str]) -> list[str]:
    """`properties=a,b&properties=c` -> [a, b, c] (HubSpot accepts both spellings)."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def parse_limit(raw: Any, default: int, maximum: int) -> int:
    try:
        limit = int(raw) if raw is not None else default
    except (TypeError, ValueError):
        raise BadRequest(f"limit must be an integer, got {raw!r}") from None
    if limit < 1 or limit > maximum:
        raise BadRequest(f"limit must be between 1 and {maximum}, got {limit}")
    return limit


def parse_after(raw: Any) -> int:
    """Cursors are offsets in this emulator; clients must treat them as opaque."""
    if raw in (None, ""):
        return 0
    try:
        after = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid paging cursor after={raw!r}") from None
    if after < 0:
        raise BadRequest(f"Invalid paging cursor after={raw!r}")
    return after


def parse_moment(value: Any) -> datetime:
    """A filter value: milliseconds since the epoch or an ISO 8601 timestamp."""
    text = str(value).strip()
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{value!r} is not a valid date: use milliseconds since the epoch or ISO 8601"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _property_expression(name: str) -> tuple[str, str]:
    """(SQL expression over `records`, kind) for a property in a filter or sort."""
    if name in TIMESTAMP_COLUMNS:
        return TIMESTAMP_COLUMNS[name], "timestamp"
    if name == "hs_object_id":
        return "try_cast(id as bigint)", "number"
    if not name.replace("_", "").isalnum():
        raise BadRequest(f"Unknown property {name!r}")
    return f"json_extract_string(body, '$.properties.{name}')", "string"


def _typed_value(value: Any, kind: str) -> Any:
    if kind == "timestamp":
        return parse_moment(value)
    if kind == "number":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise BadRequest(f"{value!r} is not a number") from None
    return str(value)


def search_where(filter_groups: list[dict]) -> tuple[str, list]:
    """SQL for HubSpot's filterGroups: groups are ORed, the filters within one group ANDed."""
    if len(filter_groups) > MAX_FILTER_GROUPS:
        raise BadRequest(f"At most {MAX_FILTER_GROUPS} filterGroups are allowed")
    if sum(len(group.get("filters") or []) for group in filter_groups) > MAX_FILTERS_TOTAL:
        raise BadRequest(f"At most {MAX_FILTERS_TOTAL} filters are allowed in one search")
    groups_sql, params = [], []
    for group in filter_groups:
        filters = group.get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise BadRequest(f"At most {MAX_FILTERS_PER_GROUP} filters are allowed in one filterGroup")
        clauses = []
        for condition in filters:
            expression, kind = _property_expression(str(condition.get("propertyName", "")))
            operator = str(condition.get("operator", "")).upper()
            if operator == "BETWEEN":
                clauses.append(f"{expression} between ? and ?")
                params += [
                    _typed_value(condition.get("value"), kind),
                    _typed_value(condition.get("highValue"), kind),
                ]
            elif operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
                clauses.append(f"{expression} is {'not ' if operator == 'HAS_PROPERTY' else ''}null")
            elif operator in OPERATORS:
                clauses.append(f"{expression} {OPERATORS[operator]} ?")
                params.append(_typed_value(condition.get("value"), kind))
            elif operator in ("IN", "NOT_IN"):
                values = condition.get("values")
                if not isinstance(values, list) or not values:
                    raise BadRequest(f"Operator {operator} needs a non-empty `values` list")
                negation = "not " if operator == "NOT_IN" else ""
                clauses.append(f"{expression} {negation}in ({', '.join('?' for _ in values)})")
                params += [_typed_value(value, kind) for value in values]
            else:
                raise BadRequest(f"Unsupported operator {operator!r}")
        if clauses:
            groups_sql.append("(" + " and ".join(clauses) + ")")
    return (" or ".join(groups_sql) if groups_sql else "true"), params


def search_order(sorts: list[dict]) -> str:
    if len(sorts) > 1:
        raise BadRequest("Only one sort is allowed")
    # Ties are broken by id so that offset paging is stable between requests.
    if not sorts:
        return "try_cast(id as bigint), id"
    expression, _ = _property_expression(str(sorts[0].get("propertyName", "")))
    direction = str(sorts[0].get("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise BadRequest(f"Unsupported sort direction {direction!r}")
    order = "asc" if direction == "ASCENDING" else "desc"
    return f"{expression} {order}, try_cast(id as bigint), id"


def _next_paging(request: Request, after: int) -> dict:
    link = str(request.url.include_query_params(after=str(after)))
    return {"next": {"after": str(after), "link": link}}


# -- the app -----------------------------------------------------------------------------------------


def create_app(ctx: EmulatorContext) -> Starlette:
    # Imported here: the write module builds on this one's errors and constants.
    from sandbox.emulators import hubspot_writes

    store = ctx.store
    general_limit = int(scaled(TEN_SECONDLY_LIMIT, ctx.limits))
    search_limit = int(scaled(SEARCH_LIMIT_PER_SECOND, ctx.limits))
    general_window = RollingWindow(max(1, general_limit), TEN_SECONDLY_SECONDS)
    search_window = RollingWindow(max(1, search_limit), 1.0)

    def authorized(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return (
            scheme.lower() == "bearer" and bool(token) and token == store.credentials(VENDOR)["access_token"]
        )

    def gate(request: Request, route: str, search: bool = False) -> Response | None:
        """Record the request, then answer auth failure or throttling as HubSpot does (None = go on)."""
        ctx.requests.record(VENDOR, request.method, route)
        if not authorized(request):
            return _unauthorized()
        if search:
            allowed, _, wait = search_window.try_acquire()
            if not allowed:
                return _rate_limited("SECONDLY", search_window.limit, wait, 1000)
        allowed, remaining, wait = general_window.try_acquire()
        if not allowed:
            return _rate_limited("TEN_SECONDLY_ROLLING", general_window.limit, wait, 10_000)
        request.state.remaining = remaining
        return None

    def ok(request: Request, body: dict, status: int = 200) -> JSONResponse:
        headers = {
            "X-HubSpot-RateLimit-Max": str(general_window.limit),
            "X-HubSpot-RateLimit-Remaining": str(getattr(request.state, "remaining", 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(TEN_SECONDLY_SECONDS * 1000)),
        }
        return JSONResponse(body, status_code=status, headers=headers)

    def unknown_type(object_type: str) -> JSONResponse:
        return _validation_error(f"Unable to infer object type from: {object_type}")

    async def list_objects(request: Request) -> Response:
        object_type = request.path_params["object_type"]
        if refused := gate(request, "/crm/v3/objects/{object_type}"):
            return refused
        if object_type not in OBJECT_TYPES:
            return unknown_type(object_type)
        query = request.query_params
        try:
            limit = parse_limit(query.get("limit"), 10, LIST_PAGE_MAX)
            after = parse_after(query.get("after"))
        except BadRequest as problem:
            return _validation_error(str(problem))
        properties = returned_properties(object_type, split_list_param(query.getlist("properties")))
        associations = split_list_param(query.getlist("associations"))
        # `archived=true` lists only the archived records (as HubSpot does), which the store keeps apart in
        # archived_<type>.parquet so that normal listings, search and associations never see them.
        archived = query.get("archived", "false").lower() == "true"
        rows = store.bodies(
            VENDOR,
            archived_resource(object_type) if archived else object_type,
            "select body from records order by try_cast(id as bigint), id limit ? offset ?",
            [limit + 1, after],
        )
        body: dict[str, Any] = {"results": [shape_object(r, properties, associations) for r in rows[:limit]]}
        if len(rows) > limit:
            body["paging"] = _next_paging(request, after + limit)
        return ok(request, body)

    async def read_object(request: Request) -> Response:
        object_type, object_id = request.path_params["object_type"], request.path_params["object_id"]
        if refused := gate(request, "/crm/v3/objects/{object_type}/{object_id}"):
            return refused
        if object_type not in OBJECT_TYPES:
            return unknown_type(object_type)
        query = request.query_params
        archived = query.get("archived", "false").lower() == "true"
        resource = archived_resource(object_type) if archived else object_type
        rows = store.bodies(VENDOR, resource, "select body from records where id = ?", [object_id])
        if not rows and not archived:
            # A merged record's old id answers with the record it was merged into, as HubSpot does.
            rows = store.bodies(VENDOR, object_type, "select body from records where list_contains(string_split("
                                "json_extract_string(body, '$.properties.hs_merged_object_ids'), ';'), ?)", [object_id])
        if not rows:
            return _not_found(f"Object not found.  objectId are usually numeric. ({object_type} {object_id})")
        properties = returned_properties(object_type, split_list_param(query.getlist("properties")))
        return ok(request, shape_object(rows[0], properties, split_list_param(query.getlist("associations"))))

    async def search_objects(request: Request) -> Response:
        object_type = request.path_params["object_type"]
        if refused := gate(request, "/crm/v3/objects/{object_type}/search", search=True):
            return refused
        if object_type not in OBJECT_TYPES:
            return unknown_type(object_type)
        try:
            payload = json.loads(await request.body() or b"{}")
            if not isinstance(payload, dict):
                raise BadRequest("The request body must be a JSON object")
            limit = parse_limit(payload.get("limit"), 10, SEARCH_PAGE_MAX)
            after = parse_after(payload.get("after"))
            if after + limit > SEARCH_RESULT_CAP:
                raise BadRequest(
                    f"Search results are limited to {SEARCH_RESULT_CAP:,}: after ({after}) + limit ({limit}) "
                    f"must not exceed {SEARCH_RESULT_CAP}. Narrow the query with filters instead of paging further."
                )
            where, params = search_where(payload.get("filterGroups") or [])
            order = search_order(payload.get("sorts") or [])
        except json.JSONDecodeError:
            return _validation_error("Invalid input JSON: the request body is not valid JSON")
        except BadRequest as problem:
            return _validation_error(str(problem))
        # Tasks created through the write API are searchable too: a client looks up which of its keys exist.
        created = hubspot_writes.created_tasks(ctx) if object_type == "tasks" else []
        rows = query_world_with(
            store,
            VENDOR,
            object_type,
            created,
            f"select body, count(*) over () as total from records where {where} order by {order} limit ? offset ?",
            [*params, limit, after],
        )
        total = rows[0][1] if rows else 0
        properties = returned_properties(object_type, [str(p) for p in payload.get("properties") or []])
        # Search never returns associations: they are read through the v4 associations API.
        results = [shape_object(json.loads(row[0]), properties, []) for row in rows]
        body: dict[str, Any] = {"total": total, "results": results}
        if after + limit < total:
            body["paging"] = {"next": {"after": str(after + limit)}}
        return ok(request, body)

    async def batch_read_associations(request: Request) -> Response:
        from_type, to_type = request.path_params["from_type"], request.path_params["to_type"]
        if refused := gate(request, "/crm/v4/associations/{from_type}/{to_type}/batch/read"):
            return refused
        for object_type in (from_type, to_type):
            if object_type not in OBJECT_TYPES:
                return unknown_type(object_type)
        try:
            payload = json.loads(await request.body() or b"{}")
            inputs = payload.get("inputs") if isinstance(payload, dict) else None
            if not isinstance(inputs, list) or not inputs:
                raise BadRequest('inputs must be a non-empty list of {"id": ...}')
            if len(inputs) > BATCH_READ_MAX:
                raise BadRequest(f"Batch input size {len(inputs)} exceeds the limit of {BATCH_READ_MAX}")
            ids = [str(item["id"]) for item in inputs]
        except json.JSONDecodeError:
            return _validation_error("Invalid input JSON: the request body is not valid JSON")
        except (BadRequest, KeyError, TypeError) as problem:
            return _validation_error(str(problem))
        started = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        links = _association_links(store, from_type, to_type, ids)
        type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type), 0)
        results, errors = [], []
        for object_id in dict.fromkeys(ids):
            targets = links.get(object_id, [])
            if targets:
                results.append(
                    {
                        "from": {"id": object_id},
                        "to": [
                            {
                                "toObjectId": int(target) if target.isdigit() else target,
                                "associationTypes": [
                                    {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                                ],
                            }
                            for target in targets
                        ],
                    }
                )
            else:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "context": {"fromObjectId": [object_id]},
                        "message": f"No {to_type[:-1]} is associated with {from_type[:-1]} {object_id}.",
                    }
                )
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body |= {"numErrors": len(errors), "errors": errors}
        body |= {"startedAt": started, "completedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        # HubSpot answers 207 Multi-Status when some inputs had no associations.
        return ok(request, body, status=207 if errors else 200)

    async def list_owners(request: Request) -> Response:
        if refused := gate(request, "/crm/v3/owners"):
            return refused
        query = request.query_params
        try:
            limit = parse_limit(query.get("limit"), 100, OWNERS_PAGE_MAX)
            after = parse_after(query.get("after"))
        except BadRequest as problem:
            return _validation_error(str(problem))
        sql, params = "select body from records", []
        if email := query.get("email"):
            sql, params = sql + " where lower(json_extract_string(body, '$.email')) = ?", [email.lower()]
        rows = store.bodies(VENDOR, "owners", f"{sql} order by try_cast(id as bigint), id limit ? offset ?",
                            [*params, limit + 1, after])  # fmt: skip
        body: dict[str, Any] = {"results": rows[:limit]}
        if len(rows) > limit:
            body["paging"] = _next_paging(request, after + limit)
        return ok(request, body)

    async def read_owner(request: Request) -> Response:
        if refused := gate(request, "/crm/v3/owners/{owner_id}"):
            return refused
        rows = store.bodies(
            VENDOR, "owners", "select body from records where id = ?", [request.path_params["owner_id"]]
        )
        return ok(request, rows[0]) if rows else _not_found("Owner not found")

    async def list_pipelines(request: Request) -> Response:
        object_type = request.path_params["object_type"]
        if refused := gate(request, "/crm/v3/pipelines/{object_type}"):
            return refused
        if object_type != "deals":
            return (
                unknown_type(object_type) if object_type not in OBJECT_TYPES else ok(request, {"results": []})
            )
        rows = store.bodies(VENDOR, "pipelines", "select body from records order by id")
        return ok(request, {"results": sorted(rows, key=lambda p: (p.get("displayOrder", 0), p["id"]))})

    async def read_pipeline(request: Request) -> Response:
        object_type, pipeline_id = request.path_params["object_type"], request.path_params["pipeline_id"]
        if refused := gate(request, "/crm/v3/pipelines/{object_type}/{pipeline_id}"):
            return refused
        rows = (
            store.bodies(VENDOR, "pipelines", "select body from records where id = ?", [pipeline_id])
            if object_type == "deals"
            else []
        )
        return ok(request, rows[0]) if rows else _not_found(f"Pipeline {pipeline_id} not found")

    async def unknown_path(request: Request) -> Response:
        ctx.requests.record(VENDOR, request.method, "unknown")
        if not authorized(request):
            return _unauthorized()
        return _not_found(f"No route for {request.method} {request.url.path}")

    routes = hubspot_writes.routes(ctx, gate, ok) + [
        Route("/crm/v3/objects/{object_type}", list_objects, methods=["GET"]),
        Route("/crm/v3/objects/{object_type}/search", search_objects, methods=["POST"]),
        Route("/crm/v3/objects/{object_type}/{object_id}", read_object, methods=["GET"]),
        Route(
            "/crm/v4/associations/{from_type}/{to_type}/batch/read", batch_read_associations, methods=["POST"]
        ),
        Route("/crm/v3/owners", list_owners, methods=["GET"]),
        Route("/crm/v3/owners/", list_owners, methods=["GET"]),
        Route("/crm/v3/owners/{owner_id}", read_owner, methods=["GET"]),
        Route("/crm/v3/pipelines/{object_type}", list_pipelines, methods=["GET"]),
        Route("/crm/v3/pipelines/{object_type}/{pipeline_id}", read_pipeline, methods=["GET"]),
        Route("/{path:path}", unknown_path, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    return Starlette(routes=routes)


def _association_links(store, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
    """from id -> associated `to_type` ids, read from whichever side's bodies carry the association."""
    links: dict[str, list[str]] = {}
    # Deals and engagements carry their associations; a read from the other side looks them up in reverse.
    for body in store.bodies(VENDOR, from_type, "select body from records where list_contains(?, id)", [ids]):
        for item in ((body.get("associations") or {}).get(to_type) or {}).get("results") or []:
            links.setdefault(str(body["id"]), []).append(str(item["id"]))
    if links or not store.has(VENDOR, to_type):
        return links
    wanted = set(ids)
    reverse_sql = "select body from records where json_extract(body, '$.associations') is not null"
    for body in store.bodies(VENDOR, to_type, reverse_sql):
        for item in ((body.get("associations") or {}).get(from_type) or {}).get("results") or []:
            if str(item["id"]) in wanted:
                links.setdefault(str(item["id"]), []).append(str(body["id"]))
    return links
