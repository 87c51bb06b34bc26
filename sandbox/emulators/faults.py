"""Faults, switchable per vendor and endpoint: one ASGI layer in front of every emulator.

A fault rule says which requests it hits and what goes wrong:

    {"vendor": "shopify", "path": "/admin/api/*/orders.json", "method": "GET",
     "kind": "throttle", "skip": 2, "times": 3, "retry_after": 0.2}

- `vendor`: the mount (`hubspot`, `shopify`, `mixpanel`, `klaviyo`, `meta`, `webhook`); `path`: a glob over
  the path under the mount (default `*`); `method`: optional.
- `skip`: let this many matching requests through first (to hit page 3 rather than page 1); `times`: how many
  requests it hits (1 = a blip, 5 = sustained, 0 = until cleared).
- `kind`, with its own settings:
  - `throttle`: the vendor's own answer (HubSpot, Shopify, Klaviyo 429 with Retry-After; Mixpanel 429;
    Meta HTTP 400 with `code` 4, 17, 32, 613 or 80000-80014 and the usage headers); `retry_after` seconds
    (fractions allowed, so tests run in seconds; Meta's estimate is given in whole minutes as Meta does);
  - `error`: `status` 500, 502 or 503 (502/503 as a proxy's HTML page, the way they arrive in practice);
  - `slow`: wait `seconds` before answering (set it above the client's timeout);
  - `drop`: send the headers and half the body, then drop the connection; the vendor app has handled the
    request first, so a write is applied although the client never gets its answer;
  - `truncate`: a complete answer whose body stops half way (invalid JSON, or a cut gzip stream);
  - `repeat_cursor`: a request that carries a paging cursor gets the previous page of the same endpoint
    again, so the answer's next cursor is the one the client just sent;
  - `drift`: the records of the answer change shape: `change` = `new_field` (a field appears),
    `type_change` (the value at `field` becomes text such as `gid://sandbox/123`), `nested_object` (an
    object appears at `field`); `field` is a dotted path inside each record;
  - `expired_credentials`: the vendor's answer to an expired token;
  - `reject_rows` (hubspot, klaviyo, meta write paths): the request goes through, but every `every`-th row
    (default 2) of its batch (1-based: rows every, 2*every, ...) is refused by the vendor's own per-row
    mechanism: HubSpot batch upsert -> that input's error in a 207, HubSpot task batch create -> the batch
    refused with 400 VALIDATION_ERROR (that call is all-or-nothing), Klaviyo bulk import -> an import error
    of the job, Meta audience users -> counted in `num_invalid_entries` and not applied. The setting reaches
    the vendor app as `scope[REJECT_ROWS_SCOPE_KEY]`; give the rule a `path` so that it is not spent on
    requests without rows.

Rules come from `create_app(..., faults=[...])`, the `CDP_SANDBOX_FAULTS` environment variable (a JSON list,
read when the app is created) or the control endpoint `/_sandbox/faults` (GET lists them with the number of
requests each has hit, POST adds `{"faults": [...]}` or one rule, DELETE clears).
"""

from __future__ import annotations

import asyncio
import fnmatch
import gzip
import json
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

VENDORS = ("hubspot", "shopify", "mixpanel", "klaviyo", "meta", "webhook")
KINDS = ("throttle", "error", "slow", "drop", "truncate", "repeat_cursor", "drift", "expired_credentials",
         "reject_rows")  # fmt: skip
# The vendors whose write APIs refuse single rows of a batch (the others have no per-row answer).
REJECT_ROWS_VENDORS = ("hubspot", "klaviyo", "meta")
# Where a `reject_rows` fault puts its `every` in the ASGI scope for the vendor app to read.
REJECT_ROWS_SCOPE_KEY = "sandbox.reject_rows_every"
DRIFT_CHANGES = ("new_field", "type_change", "nested_object")
META_THROTTLING_CODES = {4, 17, 32, 613, *range(80000, 80015)}
# Query parameters (or JSON body keys) that carry a paging cursor, per vendor.
CURSOR_PARAMETERS = {"after", "page_info", "page[cursor]"}


class FaultError(ValueError):
    """A fault rule the sandbox cannot apply (answered 400 by the control endpoint)."""


@dataclass
class Fault:
    vendor: str
    kind: str
    path: str = "*"
    method: str | None = None
    skip: int = 0
    times: int = 1
    # kind settings
    retry_after: float = 1.0
    code: int = 17
    status: int = 503
    seconds: float = 5.0
    change: str = "new_field"
    field: str = "sandbox_new_field"
    every: int = 2
    # bookkeeping
    seen: int = 0
    fired: int = 0

    @classmethod
    def parse(cls, raw: Any) -> Fault:
        if not isinstance(raw, dict):
            raise FaultError(f"A fault is a JSON object, got {raw!r}")
        known = {f for f in cls.__dataclass_fields__ if f not in ("seen", "fired")}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise FaultError(f"Unknown fault settings {unknown}; known: {sorted(known)}")
        try:
            fault = cls(**raw)
        except TypeError as exc:
            raise FaultError(f"A fault needs `vendor` and `kind`: {exc}") from None
        if fault.vendor not in VENDORS:
            raise FaultError(f"Unknown vendor {fault.vendor!r}: choose one of {', '.join(VENDORS)}")
        if fault.kind not in KINDS:
            raise FaultError(f"Unknown fault kind {fault.kind!r}: choose one of {', '.join(KINDS)}")
        if fault.kind == "error" and fault.status not in (500, 502, 503):
            raise FaultError(f"An error fault answers 500, 502 or 503, not {fault.status}")
        if fault.kind == "drift" and fault.change not in DRIFT_CHANGES:
            raise FaultError(f"Unknown drift change {fault.change!r}: choose one of {', '.join(DRIFT_CHANGES)}")
        if fault.kind == "throttle" and fault.vendor == "meta" and fault.code not in META_THROTTLING_CODES:
            raise FaultError(f"Meta throttles with codes 4, 17, 32, 613 or 80000-80014, not {fault.code}")
        if fault.kind == "reject_rows":
            if fault.vendor not in REJECT_ROWS_VENDORS:
                raise FaultError(f"reject_rows applies to {', '.join(REJECT_ROWS_VENDORS)}, not {fault.vendor}")
            if not isinstance(fault.every, int) or isinstance(fault.every, bool) or fault.every < 1:
                raise FaultError(f"reject_rows needs `every` as an integer >= 1, got {fault.every!r}")
        if fault.skip < 0 or fault.times < 0:
            raise FaultError("skip and times must not be negative")
        return fault

    def matches(self, vendor: str, method: str, path: str) -> bool:
        return (
            vendor == self.vendor
            and (self.method is None or self.method.upper() == method)
            and fnmatch.fnmatchcase(path, self.path)
        )

    def public(self) -> dict:
        return asdict(self)


class FaultBook:
    """The active rules; thread-safe, as the sandbox may serve from several threads."""

    def __init__(self, faults: list[dict] | None = None):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.add(faults or [])

    def add(self, raw_faults: list[dict]) -> None:
        parsed = [Fault.parse(raw) for raw in raw_faults]
        with self._lock:
            self._faults.extend(parsed)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def listing(self) -> list[dict]:
        with self._lock:
            return [fault.public() for fault in self._faults]

    def take(self, vendor: str, method: str, path: str, has_cursor: bool) -> Fault | None:
        """The fault that hits this request, if any (counting it)."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(vendor, method, path):
                    continue
                # A repeated cursor only makes sense on a request that carries one.
                if fault.kind == "repeat_cursor" and not has_cursor:
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip or (fault.times and fault.fired >= fault.times):
                    continue
                fault.fired += 1
                return fault
        return None

    def replays(self, vendor: str, method: str, path: str) -> bool:
        """Whether answers to this endpoint must be remembered for a `repeat_cursor` fault."""
        with self._lock:
            return any(f.kind == "repeat_cursor" and f.matches(vendor, method, path) for f in self._faults)


# -- each vendor's answers -------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, body: Any, headers: dict | None = None) -> Answer:
        return cls(status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode())


def _number(seconds: float) -> str:
    return f"{seconds:g}"


def throttled(vendor: str, fault: Fault, path: str) -> Answer:
    wait = _number(fault.retry_after)
    if vendor == "hubspot":
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": secrets.token_hex(8),
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        headers = {
            "Retry-After": wait,
            "X-HubSpot-RateLimit-Max": "190",
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
        return Answer.json(429, body, headers)
    if vendor == "shopify":
        message = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
        return Answer.json(429, {"errors": message}, {"Retry-After": wait, "X-Shopify-Shop-Api-Call-Limit": "40/40"})
    if vendor == "mixpanel":
        # Mixpanel's export answers a bare 429 without Retry-After: clients back off on their own.
        return Answer.json(429, {"request": path, "error": "Query rate limit exceeded: too many queries per second"})
    if vendor == "klaviyo":
        error = {
            "id": secrets.token_hex(8),
            "status": 429,
            "code": "throttled",
            "title": "Request was throttled.",
            "detail": f"Request was throttled. Expected available in {wait} seconds.",
            "source": {"pointer": "/data/"},
        }
        return Answer.json(429, {"errors": [error]}, {"Retry-After": wait, "RateLimit-Remaining": "0"})
    if vendor == "webhook":
        return Answer.json(429, {"error": "Too many deliveries: slow down."}, {"Retry-After": wait})
    # Meta: never a 429. The code sits in the body; the usage headers say how far over the app is and when
    # access comes back (whole minutes; 0 when the wait is under a minute).
    minutes = int(fault.retry_after // 60)
    usage = {"type": "ads_management", "call_count": 100, "total_cputime": 12, "total_time": 14,
             "estimated_time_to_regain_access": minutes}  # fmt: skip
    headers = {
        "X-Business-Use-Case-Usage": json.dumps({"sandbox": [usage]}),
        "X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 12, "total_time": 14}),
    }
    messages = {4: "(#4) Application request limit reached", 17: "(#17) User request limit reached",
                32: "(#32) Page request limit reached", 613: "(#613) Calls to this api have exceeded the rate limit."}  # fmt: skip
    message = messages.get(fault.code, "There have been too many calls to this ad-account. Wait a bit and try again.")
    body = {"error": {"message": message, "type": "OAuthException", "code": fault.code, "error_subcode": 2446079,
                      "is_transient": True, "fbtrace_id": "A" + secrets.token_urlsafe(15)}}  # fmt: skip
    return Answer.json(400, body, headers)


def server_error(vendor: str, status: int) -> Answer:
    if status in (502, 503):
        # What a load balancer in front of the API sends: HTML, not the vendor's JSON.
        title = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable"}[status]
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return Answer(status, {"content-type": "text/html"}, page.encode())
    bodies = {
        "hubspot": {"status": "error", "message": "internal error", "correlationId": secrets.token_hex(8),
                    "category": "INTERNAL_ERROR"},
        "shopify": {"errors": "Internal Server Error"},
        "mixpanel": {"error": "Internal server error"},
        "webhook": {"error": "Internal server error"},
        "klaviyo": {"errors": [{"id": secrets.token_hex(8), "status": 500, "code": "error",
                                "title": "A server error occurred.", "detail": "A server error occurred."}]},
        "meta": {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1,
                           "is_transient": True, "fbtrace_id": "A" + secrets.token_urlsafe(15)}},
    }  # fmt: skip
    return Answer.json(500, bodies[vendor])


def expired(vendor: str) -> Answer:
    if vendor == "hubspot":
        body = {"status": "error", "message": "The OAuth token used to make this call expired 2 hour(s) ago.",
                "correlationId": secrets.token_hex(8), "category": "EXPIRED_AUTHENTICATION"}  # fmt: skip
        return Answer.json(401, body)
    if vendor == "shopify":
        invalid = "[API] Invalid API key or access token (unrecognized login or wrong password)"
        return Answer.json(401, {"errors": invalid})
    if vendor == "mixpanel":
        return Answer.json(401, {"error": "Invalid username or secret"}, {"WWW-Authenticate": 'Basic realm="Mixpanel"'})
    if vendor == "klaviyo":
        error = {"id": secrets.token_hex(8), "status": 401, "code": "authentication_failed",
                 "title": "Incorrect authentication credentials.", "detail": "Incorrect authentication credentials."}  # fmt: skip
        return Answer.json(401, {"errors": [error]})
    if vendor == "webhook":
        return Answer.json(401, {"error": "The bearer token has expired."})
    body = {"error": {"message": "Error validating access token: Session has expired on Tuesday, 30-Sep-26.",
                      "type": "OAuthException", "code": 190, "error_subcode": 463,
                      "fbtrace_id": "A" + secrets.token_urlsafe(15)}}  # fmt: skip
    return Answer.json(400, body)


# -- schema drift ------------------------------------------------------------------------------------------


def drifted_value(change: str, value: Any) -> Any:
    if change == "type_change":
        # A numeric id or timestamp that turns into an opaque text id, as GraphQL-era APIs do.
        return f"gid://sandbox/{value}"
    if change == "nested_object":
        return {"source": "sandbox", "detail": {"level": 2, "flag": True}}
    return "a field the warehouse has not seen"


def drift_record(record: Any, change: str, path: str) -> None:
    """Apply one drift to a record in place; records without the path's parent are left alone."""
    *parents, leaf = path.split(".")
    node = record
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return
    if change == "type_change":
        if node.get(leaf) is not None:
            node[leaf] = drifted_value(change, node[leaf])
    else:
        node[leaf] = drifted_value(change, node.get(leaf))


def records_of(vendor: str, body: Any) -> list:
    """Where the records sit in a vendor's list answer."""
    if not isinstance(body, dict):
        return []
    if vendor == "hubspot":
        return body.get("results") or []
    if vendor in ("klaviyo", "meta"):
        data = body.get("data")
        return data if isinstance(data, list) else []
    if vendor == "shopify":
        lists = [value for value in body.values() if isinstance(value, list)]
        return lists[0] if lists else []
    return []


def drift_body(vendor: str, fault: Fault, body: bytes, gzipped: bool) -> bytes:
    if vendor == "mixpanel":
        # gzip.decompress reads every member: late events are appended to a day's file as further members.
        text = gzip.decompress(body) if gzipped else body
        lines = []
        for line in text.decode().splitlines():
            if line.strip():
                event = json.loads(line)
                drift_record(event, fault.change, fault.field)
                lines.append(json.dumps(event))
        out = ("\n".join(lines) + "\n").encode() if lines else b""
        return gzip.compress(out) if gzipped else out
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    for record in records_of(vendor, parsed):
        drift_record(record, fault.change, fault.field)
    return json.dumps(parsed).encode()


# -- the ASGI layer ---------------------------------------------------------------------------------------


class FaultInjector:
    """Wraps the sandbox app; requests under `/<vendor>/` meet the fault rules of the book."""

    def __init__(self, app, book: FaultBook):
        self.app, self.book = app, book
        self._last: dict[tuple[str, str, str], Answer] = {}
        self._last_lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        vendor, _, rest = scope.get("path", "").lstrip("/").partition("/")
        if scope["type"] != "http" or vendor not in VENDORS:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], "/" + rest
        request_body = await _read_body(receive)
        replay_receive = _replaying(request_body)
        fault = self.book.take(vendor, method, path, _has_cursor(scope, request_body))
        key = (vendor, method, path)
        if fault is None:
            if self.book.replays(vendor, method, path):
                answer = await _captured(self.app, scope, replay_receive)
                if answer.status == 200:
                    with self._last_lock:
                        self._last[key] = answer
                await _send(send, answer)
            else:
                await self.app(scope, replay_receive, send)
            return
        await self._apply(fault, vendor, key, scope, replay_receive, send)

    async def _apply(self, fault: Fault, vendor: str, key, scope, receive, send) -> None:
        kind = fault.kind
        if kind == "throttle":
            await _send(send, throttled(vendor, fault, scope["path"]))
        elif kind == "error":
            await _send(send, server_error(vendor, fault.status))
        elif kind == "expired_credentials":
            await _send(send, expired(vendor))
        elif kind == "slow":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, send)
        elif kind == "reject_rows":
            await self.app({**scope, REJECT_ROWS_SCOPE_KEY: fault.every}, receive, send)
        elif kind == "repeat_cursor":
            with self._last_lock:
                previous = self._last.get(key)
            if previous is None:
                await self.app(scope, receive, send)
            else:
                await _send(send, previous)
        else:
            answer = await _captured(self.app, scope, receive)
            gzipped = "gzip" in answer.headers.get("content-encoding", "")
            if kind == "drop":
                await _send_then_drop(send, answer)
                return
            if kind == "truncate":
                answer.body = answer.body[: len(answer.body) // 2]
            elif kind == "drift" and answer.status == 200:
                answer.body = drift_body(vendor, fault, answer.body, gzipped)
            await _send(send, answer)


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replaying(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # Nothing more will come: wait as a real receive would until the connection ends.
        await asyncio.Event().wait()

    return receive


def _has_cursor(scope, body: bytes) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if CURSOR_PARAMETERS & set(query):
        return True
    if body[:1] == b"{":
        try:
            return bool(json.loads(body).get("after"))
        except (ValueError, AttributeError):
            return False
    return False


async def _captured(app, scope, receive) -> Answer:
    """Run the wrapped app and collect its whole answer (fault tests use small worlds)."""
    answer = Answer(200)
    parts: list[bytes] = []

    async def send(message):
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    answer.body = b"".join(parts)
    return answer


def _headers(answer: Answer, length: int | None) -> list[tuple[bytes, bytes]]:
    headers = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
    if length is not None:
        headers["content-length"] = str(length)
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def _send(send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": _headers(answer, len(answer.body))})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


class ConnectionDropped(Exception):
    """Raised inside the server to make it close the socket mid-body (the client sees a broken read)."""


async def _send_then_drop(send, answer: Answer) -> None:
    # The full length is announced and half is sent: the client's read ends early with a protocol error.
    if not answer.body:
        # An empty answer (a 204) cannot be cut in half, and ASGI cannot close a connection that has sent
        # nothing: announce one byte that never comes, so the client still sees the write go unanswered.
        answer = Answer(200, dict(answer.headers), b"  ")
    await send({"type": "http.response.start", "status": answer.status, "headers": _headers(answer, len(answer.body))})
    await send({"type": "http.response.body", "body": answer.body[: len(answer.body) // 2], "more_body": True})
    raise ConnectionDropped("fault: connection dropped mid-body")
