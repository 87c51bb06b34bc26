"""Meta Marketing API (https://graph.facebook.com/{version}/...), served from the world store.

Served edges: an ad account's campaigns and insights (level=campaign, time_increment=1), a page's lead forms
and a form's leads. Graph API conventions kept: `access_token` query parameter, only the requested `fields`
returned, cursor paging (`paging.cursors.before/after`, `paging.next` absent on the last page), errors as
`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`, and throttling answered with HTTP
400 and code 17 (per token) or 80004 (per ad account) in the body plus the usage headers, never a 429.
Custom audiences (the destination side: create, add, remove, replace) live in meta_audiences.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
from datetime import UTC, date, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.emulators.common import EmulatorContext, RollingWindow, scaled

VENDOR = "meta"
DEFAULT_LIMIT = 25
# Meta answers oversized pages with "Please reduce the amount of data you're asking for"; the sandbox draws
# that line at a fixed page size so connectors must page.
MAX_LIMIT = 500
# Throttling allowances per rolling hour (Graph API user limit; ads_management business use case limit).
CALLS_PER_HOUR_PER_TOKEN = 600
CALLS_PER_HOUR_PER_AD_ACCOUNT = 300
WINDOW_SECONDS = 3600

# For each edge: its node type (for error messages), the fields it knows and those returned by default.
EDGE_FIELDS = {
    "campaigns": ("Campaign", ["id", "name", "status", "objective", "created_time", "updated_time"], ["id"]),
    "insights": (
        "AdsInsights",
        [
            "campaign_id",
            "campaign_name",
            "date_start",
            "date_stop",
            "spend",
            "impressions",
            "clicks",
            "actions",
        ],
        ["date_start", "date_stop", "spend", "impressions"],
    ),
    "leadgen_forms": (
        "LeadgenForm",
        ["id", "name", "status", "created_time", "page_id"],
        ["id", "name", "status"],
    ),
    "leads": (
        "Lead",
        ["id", "created_time", "ad_id", "campaign_id", "form_id", "field_data"],
        ["id", "created_time"],
    ),
}
# Insights always carry their reporting window, whatever the fields asked for.
ALWAYS_RETURNED = {"insights": ["date_start", "date_stop"]}
LEAD_FILTER_OPERATORS = {"GREATER_THAN": ">", "LESS_THAN": "<"}


# -- pure helpers ---------------------------------------------------------------------------------------


class GraphError(Exception):
    """An error the Graph API answers with HTTP 400 (or `status`) and its JSON error object."""

    def __init__(self, message: str, code: int, subcode: int | None = None, status: int = 400, **extra: Any):
        super().__init__(message)
        self.message, self.code, self.subcode, self.status, self.extra = message, code, subcode, status, extra

    def body(self) -> dict:
        error: dict[str, Any] = {"message": self.message, "type": "OAuthException", "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error.update(self.extra)
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
        return {"error": error}


def invalid_token() -> GraphError:
    return GraphError("Invalid OAuth access token - Cannot parse access token", 190)


def missing_object(node: str) -> GraphError:
    return GraphError(
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        100,
        33,
    )


def invalid_parameter(message: str) -> GraphError:
    return GraphError(f"(#100) {message}", 100)


def requested_fields(edge: str, value: str | None) -> list[str]:
    node_type, known, default = EDGE_FIELDS[edge]
    if not value:
        return default
    fields = [f.strip() for f in value.split(",") if f.strip()]
    for name in fields:
        if name not in known:
            raise invalid_parameter(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")
    return fields + [f for f in ALWAYS_RETURNED.get(edge, []) if f not in fields]


def page_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or int(value) < 1:
        raise invalid_parameter(f"Param limit must be a positive integer, got {value!r}")
    if int(value) > MAX_LIMIT:
        raise GraphError(
            f"Please reduce the amount of data you're asking for: limit must be at most {MAX_LIMIT}", 1
        )
    return int(value)


def encode_cursor(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> list:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError):
        raise invalid_parameter(f"Invalid cursor: {cursor!r}") from None
    if not isinstance(key, list):
        raise invalid_parameter(f"Invalid cursor: {cursor!r}")
    return key


def parse_time_range(value: str | None, today: date) -> tuple[date, date]:
    """`{"since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}`; absent means Meta's default, the last 30 days."""
    if value is None:
        return today - timedelta(days=30), today - timedelta(days=1)
    try:
        window = json.loads(value)
        since, until = date.fromisoformat(window["since"]), date.fromisoformat(window["until"])
    except (ValueError, TypeError, KeyError):
        raise invalid_parameter(
            'Param time_range must be a JSON object {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}'
        ) from None
    if since > until:
        raise invalid_parameter("Param time_range: since must be on or before until")
    return since, until


def parse_lead_filtering(value: str | None) -> list[tuple[str, int]]:
    """Leads accept `[{"field": "time_created", "operator": "GREATER_THAN"|"LESS_THAN", "value": <epoch s>}]`."""
    if not value:
        return []
    try:
        rules = json.loads(value)
        parsed = [(rule["field"], rule["operator"], int(rule["value"])) for rule in rules]
    except (ValueError, TypeError, KeyError):
        raise invalid_parameter("Param filtering must be a JSON array of {field, operator, value}") from None
    conditions = []
    for field, operator, epoch in parsed:
        if field != "time_created" or operator not in LEAD_FILTER_OPERATORS:
            raise invalid_parameter(f"Filtering field {field} with operation {operator} is not supported")
        conditions.append((LEAD_FILTER_OPERATORS[operator], epoch))
    return conditions


def project(body: dict, fields: list[str]) -> dict:
    return {name: body[name] for name in fields if name in body}


def usage_percent(used: int, allowance: int) -> int:
    return min(100, math.ceil(100 * used / max(allowance, 1)))


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


# -- the app --------------------------------------------------------------------------------------------


def create_app(ctx: EmulatorContext) -> Starlette:
    # Imported here: the audience module builds on this one's errors and paging helpers.
    from sandbox.emulators import meta_audiences

    token_allowance = max(1, int(scaled(CALLS_PER_HOUR_PER_TOKEN, ctx.limits)))
    account_allowance = max(1, int(scaled(CALLS_PER_HOUR_PER_AD_ACCOUNT, ctx.limits)))
    per_token = RollingWindow(token_allowance, WINDOW_SECONDS)
    per_account = RollingWindow(account_allowance, WINDOW_SECONDS)
    store = ctx.store

    def authenticate(request: Request) -> None:
        credentials = store.credentials(VENDOR)
        token = request.query_params.get("access_token")
        if not token or not hmac.compare_digest(token, credentials["access_token"]):
            raise invalid_token()
        proof = request.query_params.get("appsecret_proof")
        app_secret = credentials.get("app_secret")
        if proof is not None and app_secret and proof != appsecret_proof(token, app_secret):
            raise invalid_parameter("Invalid appsecret_proof provided in the API argument")

    def throttle(account_id: str | None) -> dict[str, str]:
        """Count the call against the token and, for ad account edges, the account; usage headers back."""
        allowed, remaining, wait = per_token.try_acquire()
        app_usage = usage_percent(token_allowance - remaining, token_allowance) if allowed else 100
        headers = {"X-App-Usage": json.dumps({"call_count": app_usage, "total_cputime": 0, "total_time": 0})}
        if not allowed:
            raise GraphError(
                "(#17) User request limit reached", 17, 2446079, is_transient=True, headers=headers
            )
        if account_id is None:
            return headers
        allowed, remaining, wait = per_account.try_acquire()
        usage = {
            "type": "ads_management",
            "call_count": usage_percent(account_allowance - remaining, account_allowance) if allowed else 100,
            "total_cputime": 0,
            "total_time": 0,
            "estimated_time_to_regain_access": math.ceil(wait / 60),  # minutes, as Meta reports it
        }
        headers["X-Business-Use-Case-Usage"] = json.dumps({account_id: [usage]})
        if not allowed:
            raise GraphError(
                "There have been too many calls to this ad-account. Wait a bit and try again.",
                80004,
                2446079,
                is_transient=True,
                headers=headers,
            )
        return headers

    def paged(request: Request, records: list[dict], key_of, fields: list[str]) -> dict:
        """One page of `records` (already in key order) after the request's `after` cursor."""
        limit = page_limit(request.query_params.get("limit"))
        after = request.query_params.get("after")
        if after is not None:
            after_key = decode_cursor(after)
            records = [r for r in records if key_of(r) > after_key]
        page, more = records[:limit], len(records) > limit
        body: dict[str, Any] = {"data": [project(r, fields) for r in page]}
        if page:
            paging: dict[str, Any] = {
                "cursors": {
                    "before": encode_cursor(key_of(page[0])),
                    "after": encode_cursor(key_of(page[-1])),
                }
            }
            if more:
                query = {k: v for k, v in request.query_params.items() if k != "after"}
                query["after"] = paging["cursors"]["after"]
                paging["next"] = str(request.url.replace_query_params(**query))
            body["paging"] = paging
        return body

    def campaigns(request: Request, fields: list[str]) -> dict:
        records = store.bodies(VENDOR, "campaigns", "select body from records order by id")
        return paged(request, records, lambda r: [r["id"]], fields)

    def insights(request: Request, fields: list[str]) -> dict:
        params = request.query_params
        if params.get("level", "campaign") != "campaign":
            raise invalid_parameter("The sandbox reports insights at level=campaign only")
        if params.get("time_increment", "1") != "1":
            raise invalid_parameter("The sandbox reports insights with time_increment=1 only")
        since, until = parse_time_range(params.get("time_range"), store.as_of().astimezone(UTC).date())
        records = store.bodies(
            VENDOR,
            "insights",
            "select body from records where json_extract_string(body, '$.date_start') between ? and ? "
            "order by json_extract_string(body, '$.date_start'), json_extract_string(body, '$.campaign_id')",
            [since.isoformat(), until.isoformat()],
        )
        return paged(request, records, lambda r: [r["date_start"], r["campaign_id"]], fields)

    def leadgen_forms(request: Request, fields: list[str]) -> dict:
        records = store.bodies(VENDOR, "leadgen_forms", "select body from records order by id")
        return paged(request, records, lambda r: [r["id"]], fields)

    def leads(request: Request, form_id: str, fields: list[str]) -> dict:
        conditions = parse_lead_filtering(request.query_params.get("filtering"))
        where = "".join(f" and epoch(created_at) {op} ?" for op, _ in conditions)
        records = store.bodies(
            VENDOR,
            "leads",
            f"select body from records where json_extract_string(body, '$.form_id') = ?{where} "
            "order by created_at, id",
            [form_id] + [epoch for _, epoch in conditions],
        )
        return paged(request, records, lambda r: [r["created_time"], r["id"]], fields)

    def form_exists(form_id: str) -> bool:
        return bool(store.query(VENDOR, "leadgen_forms", "select 1 from records where id = ?", [form_id]))

    async def edge(request: Request) -> JSONResponse:
        node, name = request.path_params["node"], request.path_params["edge"]
        credentials = store.credentials(VENDOR)
        account_node = f"act_{credentials['ad_account_id']}"
        route = {
            "campaigns": "/{version}/act_{ad_account_id}/campaigns",
            "insights": "/{version}/act_{ad_account_id}/insights",
            "leadgen_forms": "/{version}/{page_id}/leadgen_forms",
            "leads": "/{version}/{form_id}/leads",
        }.get(name, "/{version}/{node}/{edge}")
        ctx.requests.record(VENDOR, request.method, route)
        headers: dict[str, str] = {}
        try:
            if not re.fullmatch(r"v\d+\.\d+", request.path_params["version"]):
                raise GraphError(
                    f"Unknown path components: /{request.path_params['version']}/{node}/{name}", 2500
                )
            authenticate(request)
            headers = throttle(credentials["ad_account_id"] if node == account_node else None)
            if name not in EDGE_FIELDS:
                raise GraphError(f"Unknown path components: /{name}", 2500)
            fields = requested_fields(name, request.query_params.get("fields"))
            if name in ("campaigns", "insights"):
                if node != account_node:
                    raise missing_object(node)
                body = campaigns(request, fields) if name == "campaigns" else insights(request, fields)
            elif name == "leadgen_forms":
                if node != credentials["page_id"]:
                    raise missing_object(node)
                body = leadgen_forms(request, fields)
            else:
                if not form_exists(node):
                    raise missing_object(node)
                body = leads(request, node, fields)
        except GraphError as exc:
            headers = {**headers, **exc.extra.pop("headers", {})}
            return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
        return JSONResponse(body, headers=headers)

    async def unknown(request: Request) -> JSONResponse:
        ctx.requests.record(VENDOR, request.method, "unknown")
        error = GraphError(f"Unknown path components: /{request.path_params['path']}", 2500)
        return JSONResponse(error.body(), status_code=400)

    return Starlette(
        routes=[
            *meta_audiences.routes(ctx, throttle),
            Route("/{version}/{node}/{edge}", edge),
            Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )
