"""Shopify Admin REST emulator (api versions `YYYY-MM`): customers, orders, products, abandoned checkouts.

The contract it keeps, as the real shop answers it:
- auth by the `X-Shopify-Access-Token` header; a token is either the app's static one or one issued by the
  client-credentials grant (`POST /admin/oauth/access_token`), which expires after `TOKEN_LIFETIME_SECONDS`;
- lists wrap records (`{"orders": [...]}`), `limit` 1..250 (default 50), filters `updated_at_min/max`,
  `created_at_min/max`, `since_id`, `ids`, `status`, `fields`, `order=<field> asc|desc`;
- cursor paging by the `Link` header only: `page_info` is opaque, carries the query and the position, and a
  request carrying it may add only `limit` and `fields`;
- a leaky bucket of 40 requests leaking 2/s, reported in `X-Shopify-Shop-Api-Call-Limit`; over it, 429 with
  `Retry-After: 2.0`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.emulators.common import EmulatorContext, LeakyBucket, scaled

VENDOR = "shopify"
# Resource name -> the singular key of its one-record answer (`{"order": {...}}`).
RESOURCES = {"customers": "customer", "orders": "order", "products": "product", "checkouts": "checkout"}
# Which resources filter by `status`, and what they show when it is not given (orders and abandoned
# checkouts show only open ones by default, which is why a connector asks for `status=any`).
STATUS_DEFAULTS = {"orders": "open", "checkouts": "open", "products": None}

BUCKET_SIZE = 40
LEAK_PER_SECOND = 2.0
DEFAULT_LIMIT, MAX_LIMIT = 50, 250
# Issued tokens live this many wall-clock seconds; module-level so a test can shorten it.
TOKEN_LIFETIME_SECONDS = 86399

LIST_FILTERS = (
    "updated_at_min",
    "updated_at_max",
    "created_at_min",
    "created_at_max",
    "since_id",
    "ids",
    "status",
    "order",
)
# What a request carrying page_info may add: everything else is fixed by the cursor.
PAGE_INFO_COMPANIONS = {"page_info", "limit", "fields"}
SORTABLE = {"id", "updated_at", "created_at"}

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)


# -- small pure helpers ------------------------------------------------------------------------------------
class ShopifyError(Exception):
    """An answer in Shopify's error shape: `{"errors": <text or {field: message}>}`."""

    def __init__(self, status: int, errors: Any):
        super().__init__(str(errors))
        self.status, self.errors = status, errors


def parse_time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ShopifyError(400, {name: f"{name} is not a valid ISO 8601 date: {value!r}"}) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ShopifyError(400, {"limit": f"limit must be between 1 and {MAX_LIMIT}"})
    return limit


def parse_order(value: str | None) -> tuple[str, str]:
    if not value:
        return "id", "asc"
    field, _, direction = value.strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if field not in SORTABLE or direction not in ("asc", "desc"):
        raise ShopifyError(400, {"order": f"order must be one of {sorted(SORTABLE)} followed by asc or desc"})
    return field, direction


def encode_page_info(cursor: dict) -> str:
    raw = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_info(token: str) -> dict:
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(cursor, dict) or cursor.get("direction") not in ("next", "previous"):
            raise ValueError("not a cursor")
        cursor["anchor"], cursor["query"]  # noqa: B018 - both must be present
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ShopifyError(400, "page_info - Invalid value.") from exc
    return cursor


def select_fields(body: dict, fields: str | None) -> dict:
    if not fields:
        return body
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in body.items() if k in wanted}


def where_clause(resource: str, query: dict) -> tuple[list[str], list]:
    """SQL conditions (over the `records` view) and their parameters for a list query's filters."""
    conditions, params = [], []
    for name, column, op in (
        ("updated_at_min", "updated_at", ">="),
        ("updated_at_max", "updated_at", "<="),
        ("created_at_min", "created_at", ">="),
        ("created_at_max", "created_at", "<="),
    ):
        if query.get(name):
            conditions.append(f"{column} {op} ?")
            params.append(parse_time(name, query[name]))
    if query.get("since_id"):
        conditions.append("cast(id as hugeint) > ?")
        params.append(_integer("since_id", query["since_id"]))
    if query.get("ids"):
        ids = [_integer("ids", part) for part in query["ids"].split(",") if part.strip()]
        conditions.append(f"cast(id as hugeint) in ({', '.join('?' for _ in ids) or 'null'})")
        params.extend(ids)
    if resource in STATUS_DEFAULTS:
        conditions.extend(_status_conditions(resource, query.get("status") or STATUS_DEFAULTS[resource]))
    return conditions, params


def _status_conditions(resource: str, status: str | None) -> list[str]:
    if status is None or status == "any":
        return []
    if resource == "products":
        wanted = [s.strip() for s in status.split(",") if s.strip()]
        if not set(wanted) <= {"active", "archived", "draft"}:
            raise ShopifyError(400, {"status": "status must be active, archived or draft"})
        return ["json_extract_string(body, '$.status') in (" + ", ".join(f"'{s}'" for s in wanted) + ")"]
    closed = "json_extract_string(body, '$.closed_at') is not null"
    cancelled = "json_extract_string(body, '$.cancelled_at') is not null"
    conditions = {
        "open": [f"not ({closed})", f"not ({cancelled})"],
        "closed": [closed],
        "cancelled": [cancelled],
    }
    if status not in conditions:
        raise ShopifyError(400, {"status": "status must be open, closed, cancelled or any"})
    return conditions[status]


def _integer(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise ShopifyError(400, {name: f"{name} must be an integer: {value!r}"}) from exc


# -- the app -----------------------------------------------------------------------------------------------
def create_app(ctx: EmulatorContext) -> Starlette:
    store = ctx.store
    bucket = LeakyBucket(int(scaled(BUCKET_SIZE, ctx.limits)), scaled(LEAK_PER_SECOND, ctx.limits))
    shown_size = int(scaled(BUCKET_SIZE, ctx.limits)) if ctx.limits.enabled else BUCKET_SIZE
    issued: dict[str, float] = {}  # token -> monotonic expiry
    issued_lock = threading.Lock()

    def authorised(request: Request) -> bool:
        token = request.headers.get("x-shopify-access-token")
        if not token:
            return False
        if secrets.compare_digest(token, store.credentials(VENDOR)["access_token"]):
            return True
        with issued_lock:
            expires = issued.get(token)
        return expires is not None and time.monotonic() < expires

    def answer(body: Any, status: int = 200, headers: dict | None = None, level: float = 0.0) -> JSONResponse:
        headers = {**(headers or {}), "X-Shopify-Shop-Api-Call-Limit": f"{max(1, round(level))}/{shown_size}"}
        return JSONResponse(body, status_code=status, headers=headers)

    def guarded(route: str, handler):
        """Record, authenticate and throttle a REST call, then run `handler(request) -> (body, headers)`."""

        async def endpoint(request: Request) -> JSONResponse:
            resource = request.path_params.get("resource", "")
            ctx.requests.record(VENDOR, request.method, route.replace("{resource}", resource))
            if not authorised(request):
                return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
            allowed, level, _wait = bucket.try_acquire()
            if not allowed:
                # Shopify says 2.0 whatever the bucket's level: the client retries at the documented leak rate.
                return answer({"errors": THROTTLED}, 429, {"Retry-After": "2.0"}, level)
            if resource not in RESOURCES:
                return answer({"errors": "Not Found"}, 404, level=level)
            try:
                body, headers = handler(request, resource)
            except ShopifyError as err:
                return answer({"errors": err.errors}, err.status, level=level)
            return answer(body, 200, headers, level)

        return endpoint

    def list_records(request: Request, resource: str) -> tuple[dict, dict]:
        params = request.query_params
        limit = parse_limit(params.get("limit"))
        if "page_info" in params:
            extra = sorted(set(params) - PAGE_INFO_COMPANIONS)
            if extra:
                raise ShopifyError(400, {extra[0]: f"{extra[0]} cannot be passed when page_info is present."})
            cursor = decode_page_info(params["page_info"])
            if cursor.get("resource") != resource:
                raise ShopifyError(400, "page_info - Invalid value.")
        else:
            query = {k: params[k] for k in LIST_FILTERS if params.get(k)}
            cursor = {"resource": resource, "query": query, "anchor": None, "direction": "next"}
        rows, has_more = page_rows(resource, cursor, limit)
        bodies = [select_fields(json.loads(row[0]), params.get("fields")) for row in rows]
        links = page_links(request, resource, cursor, rows, has_more, limit)
        return {resource: bodies}, ({"Link": ", ".join(links)} if links else {})

    def page_rows(resource: str, cursor: dict, limit: int) -> tuple[list[tuple], bool]:
        """One page of (body, sort value, numeric id) rows in the query's order, and whether more lie beyond."""
        field, direction = parse_order(cursor["query"].get("order"))
        conditions, params = where_clause(resource, cursor["query"])
        sort_key = "cast(id as hugeint)" if field == "id" else field
        # Going to the previous page walks the order backwards from the page's first row, then flips back.
        backwards = cursor["direction"] == "previous"
        ascending = (direction == "asc") != backwards
        if cursor["anchor"] is not None:
            value, anchor_id = cursor["anchor"]
            op = ">" if ascending else "<"
            anchor_value = int(value) if field == "id" else parse_time("page_info", value)
            conditions.append(f"({sort_key} {op} ? or ({sort_key} = ? and cast(id as hugeint) {op} ?))")
            params += [anchor_value, anchor_value, int(anchor_id)]
        sql_order = "asc" if ascending else "desc"
        rows = store.query(
            VENDOR,
            resource,
            f"select body, {sort_key}, cast(id as hugeint) from records"
            f" where {' and '.join(conditions) or 'true'}"
            f" order by {sort_key} {sql_order}, cast(id as hugeint) {sql_order} limit ?",
            params + [limit + 1],
        )
        has_more = len(rows) > limit
        rows = rows[:limit]
        return (rows[::-1] if backwards else rows), has_more

    def page_links(request, resource, cursor, rows, has_more, limit) -> list[str]:
        if not rows:
            return []
        backwards = cursor["direction"] == "previous"
        has_next = has_more if not backwards else True
        has_previous = (cursor["anchor"] is not None) if not backwards else has_more
        links = []
        for rel, present, row in (("previous", has_previous, rows[0]), ("next", has_next, rows[-1])):
            if not present:
                continue
            value = row[1].isoformat() if isinstance(row[1], datetime) else str(row[1])
            token = encode_page_info({**cursor, "direction": rel, "anchor": [value, str(row[2])]})
            query = {"limit": str(limit), "page_info": token}
            if request.query_params.get("fields"):
                query["fields"] = request.query_params["fields"]
            url = request.url.replace(query="&".join(f"{k}={v}" for k, v in query.items()))
            links.append(f'<{url}>; rel="{rel}"')
        return links

    def count_records(request: Request, resource: str) -> tuple[dict, dict]:
        query = {k: request.query_params[k] for k in LIST_FILTERS if request.query_params.get(k)}
        conditions, params = where_clause(resource, query)
        rows = store.query(
            VENDOR,
            resource,
            f"select count(*) from records where {' and '.join(conditions) or 'true'}",
            params,
        )
        return {"count": rows[0][0] if rows else 0}, {}

    def one_record(request: Request, resource: str) -> tuple[dict, dict]:
        record_id = str(request.path_params["record_id"])
        bodies = store.bodies(VENDOR, resource, "select body from records where id = ?", [record_id])
        if not bodies:
            raise ShopifyError(404, "Not Found")
        return {RESOURCES[resource]: select_fields(bodies[0], request.query_params.get("fields"))}, {}

    async def access_token(request: Request) -> JSONResponse:
        ctx.requests.record(VENDOR, "POST", "/admin/oauth/access_token")
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = dict(await request.json())
            except (ValueError, TypeError):
                form = {}
        else:
            # A url-encoded form, parsed here so the sandbox needs no multipart library.
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
                status_code=400,
            )
        expected = store.credentials(VENDOR)
        if not (
            secrets.compare_digest(str(form.get("client_id", "")), expected["client_id"])
            and secrets.compare_digest(str(form.get("client_secret", "")), expected["client_secret"])
        ):
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "Client authentication failed: unknown client_id "
                    "or wrong client_secret.",
                },
                status_code=401,
            )
        token = "shpat_" + secrets.token_hex(16)
        lifetime = TOKEN_LIFETIME_SECONDS
        with issued_lock:
            issued[token] = time.monotonic() + lifetime
        scope = "read_customers,read_orders,read_all_orders,read_products,read_checkouts"
        return JSONResponse({"access_token": token, "scope": scope, "expires_in": lifetime})

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 404)
        ctx.requests.record(VENDOR, request.method, "(unmatched)")
        return JSONResponse(
            {"errors": "Not Found" if status == 404 else "Method Not Allowed"}, status_code=status
        )

    base = "/admin/api/{version}/{resource}"
    routes = [
        Route("/admin/oauth/access_token", access_token, methods=["POST"]),
        Route(base + "/count.json", guarded(base + "/count.json", count_records)),
        Route(base + "/{record_id:int}.json", guarded(base + "/{id}.json", one_record)),
        Route(base + ".json", guarded(base + ".json", list_records)),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})
