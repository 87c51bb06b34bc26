"""Klaviyo's read API (revision 2026-07-15), served from the world store.

Real base URL https://a.klaviyo.com; mounted at `/klaviyo`. The contract, from Klaviyo's own OpenAPI
(shared/reference/klaviyo/stable.json):
- `Authorization: Klaviyo-API-Key <key>` and a `revision` header on every request;
- JSON:API bodies (`{"data": [...], "links": {"self", "next", "prev"}}`, content type
  `application/vnd.api+json`), errors as `{"errors": [{"id", "status", "code", "title", "detail", "source"}]}`;
- cursor paging (`page[cursor]`, the next page's full URL in `links.next`), per-endpoint page-size maximums;
- the `filter` language (`greater-than(updated,2025-01-01T00:00:00Z)`, `equals(email,'a@b.c')`,
  `any(id,['a','b'])`, `and(...)`), each field with the operators the spec allows;
- `sort`, `additional-fields[profile]=subscriptions` (omitted otherwise), sparse fieldsets
  (`fields[profile]=created`: only those attributes);
- deleted profiles are simply absent (advance removes them from the store); a suppressed profile stays,
  its `subscriptions.email.marketing` with `can_receive_email_marketing: false` and a `suppression` entry;
- per-endpoint burst (per second) and steady (per minute) rate limits, 429 `throttled` with `Retry-After`.

Campaign records may carry a `channel` (email, sms, mobile_push; email when absent), top-level or in
`attributes`: Klaviyo keeps a campaign's channel on its messages, so the store puts it in the body for the
`messages.channel` filter and the emulator strips it from what it serves.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.emulators.common import EmulatorContext, RollingWindow, scaled
from sandbox.emulators.destinations import query_world_with

VENDOR = "klaviyo"
JSON_API = "application/vnd.api+json"


# -- errors: Klaviyo's JSON:API error objects -------------------------------------------------------------


class KlaviyoError(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str, source: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.source = source or {"pointer": "/data/"}


def invalid(detail: str, parameter: str) -> KlaviyoError:
    return KlaviyoError(400, "invalid", "Invalid input.", detail, {"parameter": parameter})


def error_response(error: KlaviyoError, headers: dict | None = None) -> JSONResponse:
    body = {
        "errors": [
            {
                "id": str(uuid.uuid4()),
                "status": error.status,
                "code": error.code,
                "title": error.title,
                "detail": error.detail,
                "source": error.source,
            }
        ]
    }
    return JSONResponse(body, status_code=error.status, headers=headers, media_type=JSON_API)


# -- the filter language ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<punct>[(),\[\]])
      | (?P<bare>[^\s(),\[\]'"]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Condition:
    operator: str
    field: str
    value: Any = None


def parse_filter(text: str) -> list[Condition]:
    """Klaviyo's filter expression -> a flat list of conditions, all of which must hold.

    Top-level expressions separated by commas and `and(...)` both mean AND, as in Klaviyo's docs.
    """
    tokens = _tokenize(text)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take(kind: str | None = None, text_: str | None = None) -> tuple[str, str]:
        nonlocal position
        token = peek()
        if token is None or (kind and token[0] != kind) or (text_ and token[1] != text_):
            expected = text_ or kind or "more input"
            found = token[1] if token else "the end of the filter"
            raise invalid(f"Invalid filter: expected {expected!r}, found {found!r}.", "filter")
        position += 1
        return token

    def value() -> Any:
        token = peek()
        if token == ("punct", "["):
            take()
            items = [value()]
            while peek() == ("punct", ","):
                take()
                items.append(value())
            take("punct", "]")
            return items
        kind, raw = take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", raw[1:-1])
        if kind == "bare":
            return _bare_value(raw)
        raise invalid(f"Invalid filter: unexpected {raw!r}.", "filter")

    def expression() -> list[Condition]:
        _, operator = take("bare")
        take("punct", "(")
        if operator == "and":
            conditions = expression()
            while peek() == ("punct", ","):
                take()
                conditions += expression()
            take("punct", ")")
            return conditions
        _, field_name = take("bare")
        if peek() == ("punct", ")"):  # has(profile): an operator without a value
            take()
            return [Condition(operator, field_name)]
        take("punct", ",")
        condition = Condition(operator, field_name, value())
        take("punct", ")")
        return [condition]

    conditions = expression()
    while peek() == ("punct", ","):
        take()
        conditions += expression()
    if peek() is not None:
        raise invalid(f"Invalid filter: unexpected {peek()[1]!r}.", "filter")
    return conditions


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise invalid(f"Invalid filter: cannot read {text[position:]!r}.", "filter")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _bare_value(raw: str) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "null":
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return float(raw) if "." in raw else int(raw)
    return raw  # a date-time; the field decides whether that is valid


def parse_datetime(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise ValueError(raw)
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- the resources and what the spec allows on each -----------------------------------------------------

_SQL_OPERATORS = {
    "equals": "=",
    "greater-than": ">",
    "greater-or-equal": ">=",
    "less-than": "<",
    "less-or-equal": "<=",
}


@dataclass(frozen=True)
class FilterField:
    sql: str
    kind: str  # string, datetime, number, boolean, presence
    operators: frozenset[str]
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    resource: str
    record_type: str
    page_size_default: int
    page_size_max: int | None  # None: the operation has no page[size] parameter
    burst_per_second: int
    steady_per_minute: int
    filters: dict[str, FilterField]
    sorts: dict[str, str]  # sort field -> SQL key (bigint or text, never null)
    required_filter: str | None = None
    additional_fields: tuple[str, ...] = ()


def _attr(name: str) -> str:
    return f"json_extract_string(body, '$.attributes.{name}')"


_STRINGS = frozenset({"any", "equals"})
_AFTER_BEFORE = frozenset({"greater-than", "less-than"})
_COMPARISONS = frozenset({"greater-than", "greater-or-equal", "less-than", "less-or-equal"})
_CAMPAIGN_STATUSES = (
    "Scheduled", "Sent", "Draft", "Cancelled", "Adding Recipients", "Sending", "Variations Sent",
    "Sending Segments", "Cancelled: Smart Sending", "Preparing to send", "Cancelled: Account Disabled",
    "Cancelled: No Recipients", "Preparing to schedule", "Cancelled: Internal Error",
    "Queued without Recipients", "Cancelled: Billing Limit", "Cancelled: Misconfigured", "Unknown",
)  # fmt: skip

ENDPOINTS = {
    "profiles": Endpoint(
        "profiles", "profile", 20, 100, 75, 750,
        filters={
            "id": FilterField("id", "string", _STRINGS),
            "email": FilterField(_attr("email"), "string", _STRINGS),
            "phone_number": FilterField(_attr("phone_number"), "string", _STRINGS),
            "external_id": FilterField(_attr("external_id"), "string", _STRINGS),
            "created": FilterField("created_at", "datetime", _AFTER_BEFORE),
            "updated": FilterField("updated_at", "datetime", _AFTER_BEFORE),
        },
        sorts={"id": "id", "created": "epoch_us(created_at)", "updated": "epoch_us(updated_at)",
               "email": f"coalesce({_attr('email')}, '')"},
        additional_fields=("subscriptions", "predictive_analytics"),
    ),
    "lists": Endpoint(
        "lists", "list", 10, 10, 75, 750,
        filters={
            "id": FilterField("id", "string", _STRINGS),
            "name": FilterField(_attr("name"), "string", frozenset({"any", "equals"})),
            "created": FilterField("created_at", "datetime", frozenset({"greater-than"})),
            "updated": FilterField("updated_at", "datetime", frozenset({"greater-than"})),
        },
        sorts={"id": "id", "created": "epoch_us(created_at)", "updated": "epoch_us(updated_at)",
               "name": f"coalesce({_attr('name')}, '')"},
    ),
    "metrics": Endpoint(
        "metrics", "metric", 200, None, 10, 150,
        filters={
            "integration.name": FilterField(_attr("integration.name"), "string", frozenset({"equals"})),
            "integration.category": FilterField(_attr("integration.category"), "string", frozenset({"equals"})),
        },
        sorts={},
    ),
    "campaigns": Endpoint(
        "campaigns", "campaign", 100, 100, 10, 150,
        filters={
            "id": FilterField("id", "string", frozenset({"any"})),
            "messages.channel": FilterField(
                "coalesce(json_extract_string(body, '$.channel'), json_extract_string(body, '$.attributes.channel'), 'email')", "string", frozenset({"equals"}),
                ("email", "sms", "mobile_push"),
            ),
            "name": FilterField(_attr("name"), "string", frozenset({"contains"})),
            "status": FilterField(_attr("status"), "string", _STRINGS, _CAMPAIGN_STATUSES),
            "archived": FilterField(f"cast({_attr('archived')} as boolean)", "boolean", frozenset({"equals"})),
            "created_at": FilterField("created_at", "datetime", _COMPARISONS),
            "updated_at": FilterField("updated_at", "datetime", _COMPARISONS),
            "scheduled_at": FilterField(f"cast({_attr('scheduled_at')} as timestamptz)", "datetime", _COMPARISONS),
        },
        sorts={"id": "id", "created_at": "epoch_us(created_at)", "updated_at": "epoch_us(updated_at)",
               "name": f"coalesce({_attr('name')}, '')",
               "scheduled_at": f"coalesce(epoch_us(cast({_attr('scheduled_at')} as timestamptz)), 0)"},
        required_filter="messages.channel",
    ),
    "events": Endpoint(
        "events", "event", 200, 1000, 350, 3500,
        filters={
            "metric_id": FilterField("json_extract_string(body, '$.relationships.metric.data.id')", "string",
                                     frozenset({"equals"})),
            "profile_id": FilterField("json_extract_string(body, '$.relationships.profile.data.id')", "string",
                                      frozenset({"equals"})),
            "profile": FilterField("json_extract_string(body, '$.relationships.profile.data.id')", "presence",
                                   frozenset({"has"})),
            "metric": FilterField("json_extract_string(body, '$.relationships.metric.data.id')", "presence",
                                  frozenset({"has"})),
            # The store's updated_at of an event is its datetime (sandbox/README.md).
            "datetime": FilterField("updated_at", "datetime", _COMPARISONS),
            "timestamp": FilterField("epoch(updated_at)", "number", _COMPARISONS),
        },
        sorts={"id": "id", "datetime": "epoch_us(updated_at)", "timestamp": "epoch_us(updated_at)"},
    ),
}  # fmt: skip


def conditions_to_sql(endpoint: Endpoint, conditions: list[Condition]) -> tuple[list[str], list[Any]]:
    """Validate each condition against the spec's allowed fields/operators; return SQL predicates and params."""
    clauses: list[str] = []
    params: list[Any] = []
    for condition in conditions:
        spec = endpoint.filters.get(condition.field)
        if spec is None:
            allowed = ", ".join(endpoint.filters) or "none"
            raise invalid(
                f"'{condition.field}' is not a valid field for the resource '{endpoint.record_type}'. "
                f"Filterable fields: {allowed}.",
                "filter",
            )
        if condition.operator not in spec.operators:
            raise invalid(
                f"'{condition.operator}' is not a valid operator for the field '{condition.field}'. "
                f"Allowed operators: {', '.join(sorted(spec.operators))}.",
                "filter",
            )
        if condition.operator == "has":
            clauses.append(f"{spec.sql} is not null")
            continue
        values = condition.value if isinstance(condition.value, list) else [condition.value]
        if (
            condition.operator != "any"
            and isinstance(condition.value, list)
            and condition.operator != "equals"
        ):
            raise invalid(f"'{condition.operator}' takes a single value for '{condition.field}'.", "filter")
        typed = [_typed_value(spec, condition.field, v) for v in values]
        if condition.operator in ("any",) or (
            condition.operator == "equals" and isinstance(condition.value, list)
        ):
            clauses.append(f"{spec.sql} in ({', '.join('?' for _ in typed)})")
        elif condition.operator == "contains":
            clauses.append(f"contains({spec.sql}, ?)")
        else:
            clauses.append(f"{spec.sql} {_SQL_OPERATORS[condition.operator]} ?")
        params += typed
    return clauses, params


def _typed_value(spec: FilterField, field_name: str, value: Any) -> Any:
    if spec.kind == "datetime":
        try:
            return parse_datetime(value)
        except ValueError:
            raise invalid(
                f"'{value}' is not a valid date-time for the field '{field_name}'.", "filter"
            ) from None
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"'{value}' is not a valid number for the field '{field_name}'.", "filter")
        return value
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            raise invalid(f"'{value}' is not a valid boolean for the field '{field_name}'.", "filter")
        return value
    if not isinstance(value, str):
        raise invalid(f"The value for the field '{field_name}' must be a quoted string.", "filter")
    if spec.choices and value not in spec.choices:
        raise invalid(
            f"'{value}' is not a valid choice for '{field_name}': {', '.join(spec.choices)}.", "filter"
        )
    return value


# -- paging: opaque keyset cursors bound to the query they came from -------------------------------------


@dataclass(frozen=True)
class Query:
    endpoint: Endpoint
    filter_text: str
    sort: str  # e.g. "updated" or "-updated"
    page_size: int
    additional_fields: tuple[str, ...] = field(default=())

    def fingerprint(self) -> str:
        # A cursor belongs to one filter and sort: Klaviyo's cursors cannot be replayed on another query.
        return hashlib.sha256(f"{self.filter_text}\n{self.sort}".encode()).hexdigest()[:16]


def encode_cursor(query: Query, last_key: Any, last_id: str) -> str:
    payload = json.dumps({"q": query.fingerprint(), "k": last_key, "i": last_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(query: Query, cursor: str) -> tuple[Any, str]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        fingerprint, key, last_id = payload["q"], payload["k"], payload["i"]
    except (ValueError, KeyError, TypeError):
        raise invalid("Invalid page cursor.", "page[cursor]") from None
    if fingerprint != query.fingerprint():
        raise invalid(
            "The page cursor does not belong to this query: keep the filter and sort of the request that "
            "returned it.",
            "page[cursor]",
        )
    return key, last_id


def parse_query(endpoint: Endpoint, params: dict[str, str]) -> Query:
    filter_text = params.get("filter", "")
    if endpoint.required_filter and endpoint.required_filter not in filter_text:
        raise invalid(
            f"A filter on '{endpoint.required_filter}' is required, e.g. "
            f"filter=equals({endpoint.required_filter},'email').",
            "filter",
        )
    sort = params.get("sort", "")
    if sort and sort.lstrip("-") not in endpoint.sorts:
        allowed = ", ".join(endpoint.sorts) or "none"
        raise invalid(
            f"'{sort}' is not a valid sort field for this resource. Sortable fields: {allowed}.", "sort"
        )
    if endpoint.page_size_max is None:
        if "page[size]" in params:
            raise invalid("'page[size]' is not a valid parameter for this endpoint.", "page[size]")
        page_size = endpoint.page_size_default
    else:
        raw = params.get("page[size]", str(endpoint.page_size_default))
        if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= endpoint.page_size_max:
            raise invalid(
                f"Page size must be an integer between 1 and {endpoint.page_size_max}.", "page[size]"
            )
        page_size = int(raw)
    extra = tuple(v for v in params.get(f"additional-fields[{endpoint.record_type}]", "").split(",") if v)
    unknown = [v for v in extra if v not in endpoint.additional_fields]
    if unknown:
        raise invalid(
            f"'{unknown[0]}' is not a valid additional field for '{endpoint.record_type}'.",
            f"additional-fields[{endpoint.record_type}]",
        )
    return Query(endpoint, filter_text, sort, page_size, extra)


def page_sql(query: Query, cursor: tuple[Any, str] | None) -> tuple[str, list[Any]]:
    """One page of the query, in keyset order (sort key, then id): stable across pages, no offsets."""
    endpoint = query.endpoint
    clauses, params = (
        conditions_to_sql(endpoint, parse_filter(query.filter_text)) if query.filter_text else ([], [])
    )
    descending = query.sort.startswith("-")
    key_sql = endpoint.sorts.get(query.sort.lstrip("-"), "id")
    if cursor is not None:
        comparison = "<" if descending else ">"
        clauses.append(f"({key_sql} {comparison} ? or ({key_sql} = ? and id {comparison} ?))")
        params += [cursor[0], cursor[0], cursor[1]]
    where = f"where {' and '.join(clauses)}" if clauses else ""
    direction = "desc" if descending else "asc"
    sql = (
        f"select body, {key_sql} as sort_key, id from records {where} "
        f"order by sort_key {direction}, id {direction} limit ?"
    )
    return sql, [*params, query.page_size + 1]


def present(record: dict, endpoint: Endpoint, additional_fields: tuple[str, ...], api_root: str) -> dict:
    """The record as the API returns it: store-private keys stripped, extra fields only when asked."""
    record = {k: v for k, v in record.items() if k != "channel"}
    attributes = dict(record.get("attributes") or {})
    if endpoint.resource == "campaigns":
        attributes.pop("channel", None)
    for extra in endpoint.additional_fields:
        if extra not in additional_fields:
            attributes.pop(extra, None)
    record["attributes"] = attributes
    record["links"] = {"self": f"{api_root}/api/{endpoint.resource}/{record['id']}/"}
    return record


# -- throttling -------------------------------------------------------------------------------------------


class Throttle:
    """Klaviyo's two windows per endpoint: a burst allowance per second and a steady one per minute."""

    def __init__(self, endpoint: Endpoint, ctx: EmulatorContext):
        self.burst_limit = max(1, int(scaled(endpoint.burst_per_second, ctx.limits)))
        self.steady_limit = max(1, int(scaled(endpoint.steady_per_minute, ctx.limits)))
        self.burst = RollingWindow(self.burst_limit, 1.0)
        self.steady = RollingWindow(self.steady_limit, 60.0)

    def check(self) -> tuple[KlaviyoError, dict] | None:
        for window, limit, seconds in (
            (self.steady, self.steady_limit, 60),
            (self.burst, self.burst_limit, 1),
        ):
            allowed, _, wait = window.try_acquire()
            if not allowed:
                retry_after = max(1, math.ceil(wait))
                headers = {
                    "Retry-After": str(retry_after),
                    "RateLimit-Limit": f"{limit};w={seconds}",
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(retry_after),
                }
                error = KlaviyoError(
                    429, "throttled", "Request was throttled.",
                    f"Request was throttled. Expected available in {retry_after} second"
                    f"{'s' if retry_after != 1 else ''}.",
                )  # fmt: skip
                return error, headers
        return None


# -- the app ----------------------------------------------------------------------------------------------


def create_app(ctx: EmulatorContext) -> Starlette:
    # Imported here: the write module builds on this one's errors and throttles.
    from sandbox.emulators import klaviyo_writes

    store = ctx.store
    throttles = {name: Throttle(endpoint, ctx) for name, endpoint in ENDPOINTS.items()}

    def records(resource: str, sql: str, params: list) -> list[tuple]:
        """The world's records of a resource; for lists, also those created through the write API."""
        extra = klaviyo_writes.created_lists(ctx) if resource == "lists" else []
        return query_world_with(store, VENDOR, resource, extra, sql, params)

    def authenticate(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme != "Klaviyo-API-Key" or not key.strip():
            raise KlaviyoError(
                401, "not_authenticated", "Authentication credentials were not provided.",
                "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
            )  # fmt: skip
        if key.strip() != store.credentials(VENDOR)["api_key"]:
            raise KlaviyoError(
                401, "authentication_failed", "Incorrect authentication credentials.",
                "Incorrect authentication credentials.",
            )  # fmt: skip
        if not request.headers.get("revision"):
            raise KlaviyoError(
                400, "invalid", "Invalid input.",
                "The 'revision' header is required, e.g. revision: 2026-07-15.", {"parameter": "revision"},
            )  # fmt: skip

    def api_root(request: Request) -> str:
        # The URL up to the mount point: links must point back through the sandbox's /klaviyo prefix.
        return str(request.base_url).rstrip("/") + request.scope.get("root_path", "")

    def guarded(route: str, name: str, handler):
        async def endpoint(request: Request) -> JSONResponse:
            ctx.requests.record(VENDOR, request.method, route)
            try:
                authenticate(request)
                throttled = throttles[name].check()
                if throttled:
                    return error_response(*throttled)
                return handler(request, ENDPOINTS[name])
            except KlaviyoError as error:
                return error_response(error)

        return endpoint

    def list_records(request: Request, endpoint: Endpoint) -> JSONResponse:
        params = dict(request.query_params)
        query = parse_query(endpoint, params)
        cursor = decode_cursor(query, params["page[cursor]"]) if params.get("page[cursor]") else None
        sql, sql_params = page_sql(query, cursor)
        rows = records(endpoint.resource, sql, sql_params)
        page, more = rows[: query.page_size], len(rows) > query.page_size
        root = api_root(request)
        data = [present(json.loads(body), endpoint, query.additional_fields, root) for body, _, _ in page]
        if sparse := params.get(f"fields[{endpoint.record_type}]"):
            # JSON:API sparse fieldsets: only the named attributes (the id and type always come back).
            wanted = {name.strip() for name in sparse.split(",") if name.strip()}
            for item in data:
                item["attributes"] = {k: v for k, v in item["attributes"].items() if k in wanted}
        self_url = f"{root}/api/{endpoint.resource}/"
        links = {"self": f"{self_url}?{urlencode(params)}" if params else self_url}
        if more:
            _, last_key, last_id = page[-1]
            next_params = {**params, "page[cursor]": encode_cursor(query, last_key, last_id)}
            links["next"] = f"{self_url}?{urlencode(next_params)}"
        if cursor is not None:
            # Klaviyo's prev link: the first page of the same query (keyset cursors only run forward here).
            first = {k: v for k, v in params.items() if k != "page[cursor]"}
            links["prev"] = f"{self_url}?{urlencode(first)}" if first else self_url
        return JSONResponse({"data": data, "links": links}, media_type=JSON_API)

    def get_record(request: Request, endpoint: Endpoint) -> JSONResponse:
        record_id = request.path_params["id"]
        found = records(endpoint.resource, "select body from records where id = ?", [record_id])
        bodies = [json.loads(body) for (body,) in found]
        if not bodies:
            raise KlaviyoError(404, "not_found", "Not found.", f"A {endpoint.record_type} with id {record_id} "
                               "was not found.", {"pointer": "/data/id"})  # fmt: skip
        extra = tuple(v for v in request.query_params.get(f"additional-fields[{endpoint.record_type}]", "").split(",")
                      if v)  # fmt: skip
        root = api_root(request)
        return JSONResponse(
            {"data": present(bodies[0], endpoint, extra, root), "links": {"self": str(request.url)}},
            media_type=JSON_API,
        )

    routes = klaviyo_writes.routes(ctx, authenticate, api_root)
    for name in ENDPOINTS:
        collection, item = f"/api/{name}/", f"/api/{name}/{{id}}/"
        routes += [
            Route(collection, guarded(collection, name, list_records)),
            Route(collection.rstrip("/"), guarded(collection, name, list_records)),
            Route(item, guarded(item, name, get_record)),
            Route(item.rstrip("/"), guarded(item, name, get_record)),
        ]

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        ctx.requests.record(VENDOR, request.method, "<unknown>")
        return error_response(
            KlaviyoError(404, "not_found", "Not found.", "Not found.", {"pointer": "/data/"})
        )

    return Starlette(routes=routes, exception_handlers={404: not_found})
