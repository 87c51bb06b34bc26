"""Meta custom audiences (Graph API) over the sandbox's destination state; mounted by meta.py.

Fields come as query parameters, a form (`application/x-www-form-urlencoded`) or a JSON body, with
`access_token` (and `appsecret_proof`) among them, as the Graph API takes them.
- `POST /{version}/act_{account}/customaudiences` (name, subtype=CUSTOM, customer_file_source,
  description) -> `{"id"}`; `GET` the same edge lists them (fields id, name, description, subtype,
  customer_file_source, approximate_count_lower_bound/upper_bound (the exact size here), time_created,
  time_updated), paged like the other edges.
- `POST` / `DELETE /{version}/{audience_id}/users`: `payload` = `{"schema": [...] or "EMAIL", "data":
  [[...], ...]}` (at most 10,000 rows), optional `session`. Hashed fields must be 64 lowercase hex
  (SHA-256); EXTERN_ID, MADID, PAGEUID and LOOKALIKE_VALUE go as they are. A row with no value, or with a
  malformed hash, is an invalid entry. Answer `{"audience_id", "session_id", "num_received",
  "num_invalid_entries", "invalid_entry_samples"}`. Membership follows destinations.py (Meta's matching).
- `POST /{version}/{audience_id}/usersreplace`: the same plus a required `session`. A new session_id starts
  a replacement (dropping any unfinished one), its batches accumulate aside, and the batch with
  `last_batch_flag` makes them the audience's members. A batch of a finished session is answered again
  without effect, so a client may retry the last batch it never got an answer for.
- Every audience write counts against the ad account's allowance (AUDIENCE_WRITES_PER_WINDOW per
  AUDIENCE_WINDOW_SECONDS, times `Limits.scale`); beyond it Meta's business-use-case error 80003 (HTTP 400,
  `X-Business-Use-Case-Usage` with `estimated_time_to_regain_access` in minutes).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.emulators import destinations
from sandbox.emulators.common import EmulatorContext, Limits, RollingWindow, scaled
from sandbox.emulators.destinations import insert_rows
from sandbox.emulators.faults import REJECT_ROWS_SCOPE_KEY
from sandbox.emulators.meta import (
    VENDOR,
    GraphError,
    appsecret_proof,
    decode_cursor,
    encode_cursor,
    invalid_parameter,
    invalid_token,
    missing_object,
    page_limit,
    project,
)

MAX_ROWS_PER_REQUEST = 10_000
AUDIENCE_WRITES_PER_WINDOW = 60
AUDIENCE_WINDOW_SECONDS = 60.0
AUDIENCE_ID_BASE = 23_850_000_000_000_000
MAX_INVALID_SAMPLES = 10
# Meta's customer-file keys; all but the last four are normalised and SHA-256 hashed by the sender.
SCHEMA_FIELDS = ("EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP",
                 "COUNTRY", "EXTERN_ID", "MADID", "PAGEUID", "LOOKALIKE_VALUE")  # fmt: skip
PLAIN_FIELDS = ("EXTERN_ID", "MADID", "PAGEUID", "LOOKALIKE_VALUE")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
FILE_SOURCES = ("USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED")
AUDIENCE_FIELDS = ("id", "name", "description", "subtype", "customer_file_source", "account_id",
                   "approximate_count_lower_bound", "approximate_count_upper_bound", "time_created",
                   "time_updated")  # fmt: skip


def audience_writes_per_second(limits: Limits) -> float:
    """The allowance a benchmark can pace itself by (huge when limits are off)."""
    return max(1, int(scaled(AUDIENCE_WRITES_PER_WINDOW, limits))) / AUDIENCE_WINDOW_SECONDS


# -- pure rules ------------------------------------------------------------------------------------------------


def parse_schema(schema: Any) -> list[str]:
    fields = [schema] if isinstance(schema, str) else schema
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise invalid_parameter(
            'payload.schema must be a field name or a list of them, e.g. ["EMAIL", "PHONE"]'
        )
    for name in fields:
        if name not in SCHEMA_FIELDS:
            raise invalid_parameter(f"Invalid schema field {name!r}: use {', '.join(SCHEMA_FIELDS)}")
    if len(set(fields)) != len(fields):
        raise invalid_parameter(f"payload.schema names a field twice: {fields}")
    return fields


def parse_payload(raw: Any) -> tuple[list[str], list]:
    """`payload` (JSON text or an object) -> (schema fields, data rows); refuses what Meta refuses whole."""
    if raw is None:
        raise invalid_parameter("The parameter payload is required")
    try:
        payload = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise invalid_parameter('Param payload must be JSON: {"schema": [...], "data": [[...]]}') from None
    if not isinstance(payload, dict) or "schema" not in payload or not isinstance(payload.get("data"), list):
        raise invalid_parameter('Param payload must be {"schema": [...], "data": [[...], ...]}')
    schema = parse_schema(payload["schema"])
    data = payload["data"]
    if not data:
        raise invalid_parameter("payload.data must hold at least one row")
    if len(data) > MAX_ROWS_PER_REQUEST:
        raise invalid_parameter(f"payload.data has {len(data)} rows; at most {MAX_ROWS_PER_REQUEST} go in one "
                                "request: split it into batches of one session")  # fmt: skip
    return schema, data


def parse_session(raw: Any, required: bool) -> dict | None:
    if raw is None:
        if required:
            raise invalid_parameter("The parameter session is required: {\"session_id\", \"batch_seq\", "
                                    "\"last_batch_flag\"}")  # fmt: skip
        return None
    try:
        session = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise invalid_parameter("Param session must be a JSON object") from None
    if not isinstance(session, dict) or session.get("session_id") in (None, ""):
        raise invalid_parameter("Param session must be a JSON object with a session_id")
    seq = session.get("batch_seq", 1)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise invalid_parameter(f"session.batch_seq must be an integer from 1, got {seq!r}")
    return {**session, "batch_seq": seq, "last_batch_flag": bool(session.get("last_batch_flag", False))}


def clean_rows(schema: list[str], data: list, reject_every: int | None = None) -> tuple[list[dict], dict]:
    """The valid rows as {field: value} (empty values left out) and the invalid ones: {"count", "samples"}."""
    rows, samples, invalid = [], {}, 0
    for index, raw in enumerate(data):
        values = [raw] if len(schema) == 1 and not isinstance(raw, list) else raw
        problem = None
        if not isinstance(values, list) or len(values) != len(schema):
            problem, sample = f"The row does not have the schema's {len(schema)} values", json.dumps(raw)
        else:
            row = {
                field: "" if value is None else str(value)
                for field, value in zip(schema, values, strict=True)
            }
            row = {field: value for field, value in row.items() if value}
            bad = [f for f, v in row.items() if f not in PLAIN_FIELDS and not SHA256_HEX.match(v)]
            if not row:
                problem, sample = "The row has no value", f"row {index}"
            elif bad:
                problem, sample = f"Invalid {bad[0]}: not a lowercase SHA-256 hex digest", row[bad[0]]
            elif reject_every and (index + 1) % reject_every == 0:
                problem, sample = "Refused by the destination (sandbox fault reject_rows)", f"row {index}"
        if problem:
            invalid += 1
            if len(samples) < MAX_INVALID_SAMPLES:
                samples[sample] = problem
        else:
            rows.append(row)
    return rows, {"count": invalid, "samples": samples}


def usage_header(account_id: str, used_percent: int, wait_seconds: float) -> dict[str, str]:
    usage = {
        "type": "custom_audience",
        "call_count": used_percent,
        "total_cputime": 0,
        "total_time": 0,
        "estimated_time_to_regain_access": math.ceil(wait_seconds / 60),  # minutes, as Meta reports it
    }
    return {"X-Business-Use-Case-Usage": json.dumps({account_id: [usage]})}


# -- the routes ------------------------------------------------------------------------------------------------


def routes(ctx: EmulatorContext, read_throttle) -> list[Route]:
    """The audience routes; `read_throttle(account_id)` is the read side's (listing audiences is a read)."""
    store, world = ctx.destinations, ctx.store
    allowance = max(1, int(scaled(AUDIENCE_WRITES_PER_WINDOW, ctx.limits)))
    windows: dict[str, RollingWindow] = {}

    def throttle_write(account_id: str) -> dict[str, str]:
        window = windows.setdefault(account_id, RollingWindow(allowance, AUDIENCE_WINDOW_SECONDS))
        allowed, remaining, wait = window.try_acquire()
        if not allowed:
            raise GraphError("There have been too many calls to this ad-account. Wait a bit and try again.",
                             80003, 2446079, is_transient=True,
                             headers=usage_header(account_id, 100, wait))  # fmt: skip
        return usage_header(account_id, math.ceil(100 * (allowance - remaining) / allowance), 0)

    async def request_fields(request: Request) -> dict[str, Any]:
        """Query parameters plus the body's fields (form or JSON), as the Graph API merges them."""
        fields: dict[str, Any] = dict(request.query_params)
        raw = await request.body()
        if not raw:
            return fields
        content_type = request.headers.get("content-type", "")
        if "multipart/" in content_type:
            raise invalid_parameter(
                "Send the fields form-urlencoded or as JSON (multipart is not served here)"
            )
        if "json" in content_type:
            try:
                body = json.loads(raw)
            except ValueError:
                raise invalid_parameter("The request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise invalid_parameter("The JSON body must be an object of fields")
            return {**fields, **body}
        return {**fields, **dict(parse_qsl(raw.decode(), keep_blank_values=True))}

    def authenticate(fields: dict[str, Any]) -> None:
        credentials = world.credentials(VENDOR)
        token = fields.get("access_token")
        if not token or not secrets.compare_digest(str(token), credentials["access_token"]):
            raise invalid_token()
        proof, app_secret = fields.get("appsecret_proof"), credentials.get("app_secret")
        if proof is not None and app_secret and proof != appsecret_proof(str(token), app_secret):
            raise invalid_parameter("Invalid appsecret_proof provided in the API argument")

    def check_version(request: Request) -> None:
        version = request.path_params["version"]
        if not re.fullmatch(r"v\d+\.\d+", version):
            raise GraphError(f"Unknown path components: /{version}", 2500)

    def graph_endpoint(route: str, handler):
        async def endpoint(request: Request) -> JSONResponse:
            ctx.requests.record(VENDOR, request.method, route)
            headers: dict[str, str] = {}
            try:
                check_version(request)
                fields = await request_fields(request)
                authenticate(fields)
                body, headers = await handler(request, fields)
            except GraphError as exc:
                headers = {**headers, **exc.extra.pop("headers", {})}
                return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
            return JSONResponse(body, headers=headers)

        return endpoint

    def account_of(node: str) -> str:
        account_id = world.credentials(VENDOR)["ad_account_id"]
        if node != f"act_{account_id}":
            raise missing_object(node)
        return account_id

    def audience_account(audience_id: str) -> str:
        rows = store.fetch("select account_id from meta_audiences where id = ?", [audience_id])
        if not rows:
            raise missing_object(audience_id)
        return rows[0][0]

    # -- the audiences edge ---------------------------------------------------------------------------------

    async def audiences(request: Request, fields: dict) -> tuple[dict, dict]:
        account_id = account_of(request.path_params["node"])
        if request.method == "GET":
            headers = read_throttle(account_id)
            return await run_in_threadpool(list_audiences, request, account_id, fields), headers
        headers = throttle_write(account_id)
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid_parameter("The parameter name is required")
        subtype = fields.get("subtype", "CUSTOM")
        if subtype != "CUSTOM":
            raise invalid_parameter(
                f"Only subtype=CUSTOM (a customer file audience) is served here, not {subtype!r}"
            )
        source = fields.get("customer_file_source")
        if source not in FILE_SOURCES:
            raise invalid_parameter(
                f"The parameter customer_file_source is required: one of {', '.join(FILE_SOURCES)}"
            )

        def create() -> str:
            now = time.time()
            with store.transaction() as cursor:
                count = cursor.execute("select count(*) from meta_audiences").fetchone()[0]
                audience_id = str(AUDIENCE_ID_BASE + count + 1)
                insert_rows(cursor, "meta_audiences", [{
                    "id": audience_id, "account_id": account_id, "name": name, "subtype": subtype,
                    "description": str(fields.get("description") or ""), "customer_file_source": source,
                    "created_at": now, "updated_at": now}])  # fmt: skip
            return audience_id

        return {"id": await run_in_threadpool(create)}, headers

    def list_audiences(request: Request, account_id: str, fields: dict) -> dict:
        wanted = [f.strip() for f in str(fields.get("fields") or "id").split(",") if f.strip()]
        for name in wanted:
            if name not in AUDIENCE_FIELDS:
                raise invalid_parameter(
                    f"Tried accessing nonexisting field ({name}) on node type (CustomAudience)"
                )
        limit = page_limit(fields.get("limit"))
        after = decode_cursor(fields["after"])[0] if fields.get("after") else ""
        rows = store.fetch(
            "select id, name, description, subtype, customer_file_source, created_at, updated_at, "
            "(select count(*) from meta_members m where m.audience_id = a.id) from meta_audiences a "
            "where account_id = ? and id > ? order by id limit ?",
            [account_id, after, limit + 1],
        )
        records = [
            {"id": i, "name": n, "description": d, "subtype": s, "customer_file_source": c, "account_id": account_id,
             "approximate_count_lower_bound": size, "approximate_count_upper_bound": size,
             "time_created": int(created), "time_updated": int(updated)}
            for i, n, d, s, c, created, updated, size in rows[:limit]
        ]  # fmt: skip
        body: dict[str, Any] = {"data": [project(r, wanted) for r in records]}
        if records:
            paging: dict[str, Any] = {"cursors": {"before": encode_cursor([records[0]["id"]]),
                                                  "after": encode_cursor([records[-1]["id"]])}}  # fmt: skip
            if len(rows) > limit:
                query = {k: v for k, v in request.query_params.items() if k != "after"}
                paging["next"] = str(
                    request.url.replace_query_params(**query, after=paging["cursors"]["after"])
                )
            body["paging"] = paging
        return body

    # -- members --------------------------------------------------------------------------------------------

    def answer(audience_id: str, session: dict | None, received: int, invalid: dict) -> dict:
        session_id = session["session_id"] if session else secrets.randbelow(2**62)
        return {"audience_id": audience_id, "session_id": session_id, "num_received": received,
                "num_invalid_entries": invalid["count"], "invalid_entry_samples": invalid["samples"]}  # fmt: skip

    async def users(request: Request, fields: dict) -> tuple[dict, dict]:
        audience_id = request.path_params["node"]
        headers = throttle_write(await run_in_threadpool(audience_account, audience_id))
        schema, data = parse_payload(fields.get("payload"))
        session = parse_session(fields.get("session"), required=False)
        rows, invalid = clean_rows(schema, data, request.scope.get(REJECT_ROWS_SCOPE_KEY))

        def apply() -> None:
            with store.transaction() as cursor:
                if request.method == "DELETE":
                    destinations.remove_members(cursor, audience_id, rows)
                else:
                    destinations.add_members(cursor, audience_id, rows)
                cursor.execute(
                    "update meta_audiences set updated_at = ? where id = ?", [time.time(), audience_id]
                )

        await run_in_threadpool(apply)
        return answer(audience_id, session, len(data), invalid), headers

    async def users_replace(request: Request, fields: dict) -> tuple[dict, dict]:
        audience_id = request.path_params["node"]
        headers = throttle_write(await run_in_threadpool(audience_account, audience_id))
        schema, data = parse_payload(fields.get("payload"))
        session = parse_session(fields.get("session"), required=True)
        rows, invalid = clean_rows(schema, data, request.scope.get(REJECT_ROWS_SCOPE_KEY))
        await run_in_threadpool(replace_batch, audience_id, session, rows, len(data))
        return answer(audience_id, session, len(data), invalid), headers

    def replace_batch(audience_id: str, session: dict, rows: list[dict], received: int) -> None:
        session_id = str(session["session_id"])
        # The replacement builds up aside, under its own audience id, until its last batch.
        aside = f"{audience_id}:replace:{session_id}"
        with store.transaction() as cursor:
            known = cursor.execute("select finished from meta_sessions where audience_id = ? and session_id = ?",
                                   [audience_id, session_id]).fetchall()  # fmt: skip
            if known and known[0][0]:
                return  # a retried batch of a finished replacement: it already took effect
            if not known:
                if session["batch_seq"] != 1:
                    raise invalid_parameter(f"Replace session {session_id} is unknown: a session starts with "
                                            "batch_seq 1")  # fmt: skip
                # A new session supersedes any unfinished one of this audience.
                for (stale,) in cursor.execute("select session_id from meta_sessions where audience_id = ? and "
                                               "not finished", [audience_id]).fetchall():  # fmt: skip
                    destinations.drop_members(cursor, f"{audience_id}:replace:{stale}")
                cursor.execute(
                    "delete from meta_sessions where audience_id = ? and not finished", [audience_id]
                )
                insert_rows(cursor, "meta_sessions", [{"audience_id": audience_id, "session_id": session_id,
                                                       "finished": False, "batches": 0, "received": 0,
                                                       "updated_at": time.time()}])  # fmt: skip
            destinations.add_members(cursor, aside, rows)
            finished = session["last_batch_flag"]
            if finished:
                destinations.move_members(cursor, aside, audience_id)
            cursor.execute(
                "update meta_sessions set batches = batches + 1, received = received + ?, finished = ?, "
                "updated_at = ? where audience_id = ? and session_id = ?",
                [received, finished, time.time(), audience_id, session_id],
            )
            cursor.execute(
                "update meta_audiences set updated_at = ? where id = ?", [time.time(), audience_id]
            )

    return [
        Route("/{version}/{node}/customaudiences",
              graph_endpoint("/{version}/act_{ad_account_id}/customaudiences", audiences), methods=["GET", "POST"]),
        Route("/{version}/{node}/users", graph_endpoint("/{version}/{audience_id}/users", users),
              methods=["POST", "DELETE"]),
        Route("/{version}/{node}/usersreplace", graph_endpoint("/{version}/{audience_id}/usersreplace", users_replace),
              methods=["POST"]),
    ]  # fmt: skip
