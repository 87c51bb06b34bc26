"""Mixpanel's raw event export (https://data.mixpanel.com/api/2.0/export), served from the world store.

The store keeps one gzip file per event day (`mixpanel/events/date=YYYY-MM-DD.ndjson.gz`, late events appended
as further gzip members). An unfiltered export to a client that accepts gzip streams those bytes as they are,
so a year of events costs no recompression; `event`, `where` and `limit` need the lines, so only then are the
files decompressed (and the filtered lines recompressed for a gzip client).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sandbox.emulators.common import EmulatorContext, RollingWindow, scaled

VENDOR = "mixpanel"
EXPORT_ROUTE = "/api/2.0/export"
# Mixpanel documents `limit` as "cannot be over 100000".
MAX_LIMIT = 100_000
# Raw export: 60 queries per hour and 3 queries per second, per project.
QUERIES_PER_HOUR = 60
QUERIES_PER_SECOND = 3
CHUNK_BYTES = 1 << 20

# The subset of Mixpanel's `where` expression language the sandbox understands: comparisons of one property
# with a string literal, joined by `and`, e.g. `properties["$os"] == "iOS" and properties["mp_lib"] != "web"`.
_WHERE_TERM = re.compile(r'^\s*properties\["([^"]+)"\]\s*(==|!=)\s*"([^"]*)"\s*$')


# -- pure helpers ---------------------------------------------------------------------------------------


class ExportError(ValueError):
    """A request Mixpanel refuses with 400."""


def parse_day(value: str | None, name: str) -> date:
    if not value:
        raise ExportError(f"'{name}' is a required parameter")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ExportError(f"'{name}' is invalid: {value!r} is not in the format YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ExportError(f"'{name}' is invalid: {value!r} is not a valid date") from None


def parse_date_range(from_value: str | None, to_value: str | None, today: date) -> tuple[date, date]:
    from_day, to_day = parse_day(from_value, "from_date"), parse_day(to_value, "to_date")
    if to_day > today:
        raise ExportError(
            f"'to_date' cannot be later than today ({today.isoformat()}) in the project's time zone"
        )
    if from_day > to_day:
        raise ExportError("'from_date' cannot be later than 'to_date'")
    return from_day, to_day


def parse_event_names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    try:
        names = json.loads(value)
    except json.JSONDecodeError:
        raise ExportError("'event' must be a JSON array of event names, e.g. [\"Order Completed\"]") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ExportError("'event' must be a JSON array of event names, e.g. [\"Order Completed\"]")
    return set(names)


def parse_limit(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ExportError(f"'limit' must be a positive integer, got {value!r}")
    if int(value) > MAX_LIMIT:
        raise ExportError(f"'limit' cannot be over {MAX_LIMIT}")
    return int(value)


def parse_where(value: str | None) -> Callable[[dict], bool] | None:
    if not value:
        return None
    terms = []
    for part in re.split(r"\s+and\s+", value):
        match = _WHERE_TERM.match(part)
        if not match:
            raise ExportError(
                f"'where' expression not supported by the sandbox: {part.strip()!r} "
                '(use properties["name"] == "value", != and and)'
            )
        terms.append(match.groups())

    def matches(properties: dict) -> bool:
        return all((str(properties.get(key)) == literal) == (op == "==") for key, op, literal in terms)

    return matches


def day_files(events_dir: Path, from_day: date, to_day: date) -> list[Path]:
    """The store's event files of the requested days, oldest first (days without events have none)."""
    wanted = []
    for path in sorted(events_dir.glob("date=*.ndjson.gz")):
        day = date.fromisoformat(path.name.removeprefix("date=").removesuffix(".ndjson.gz"))
        if from_day <= day <= to_day:
            wanted.append(path)
    return wanted


def raw_chunks(paths: list[Path]) -> Iterator[bytes]:
    """The files' gzip bytes back to back: concatenated gzip members are one valid gzip stream."""
    for path in paths:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk


def selected_lines(
    paths: list[Path], names: set[str] | None, where: Callable[[dict], bool] | None, limit: int | None
) -> Iterator[bytes]:
    sent = 0
    for path in paths:
        with gzip.open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                if names is not None or where is not None:
                    event = json.loads(line)
                    if names is not None and event.get("event") not in names:
                        continue
                    if where is not None and not where(event.get("properties") or {}):
                        continue
                if limit is not None and sent >= limit:
                    return
                sent += 1
                yield line if line.endswith(b"\n") else line + b"\n"


def gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    buffer = bytearray()
    for chunk in chunks:
        buffer += compressor.compress(chunk)
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    buffer += compressor.flush()
    yield bytes(buffer)


def basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, _, secret = decoded.partition(":")
    return username, secret


# -- the app --------------------------------------------------------------------------------------------


def create_app(ctx: EmulatorContext) -> Starlette:
    per_hour = RollingWindow(max(1, int(scaled(QUERIES_PER_HOUR, ctx.limits))), 3600)
    per_second = RollingWindow(max(1, int(scaled(QUERIES_PER_SECOND, ctx.limits))), 1)

    def error(status: int, message: str, request: Request, headers: dict | None = None) -> JSONResponse:
        query = request.url.query
        return JSONResponse(
            {"request": EXPORT_ROUTE + (f"?{query}" if query else ""), "error": message},
            status_code=status,
            headers=headers,
        )

    async def export(request: Request) -> Response:
        ctx.requests.record(VENDOR, request.method, EXPORT_ROUTE)
        credentials = ctx.store.credentials(VENDOR)
        given = basic_auth(request.headers.get("authorization"))
        if given != (credentials["username"], credentials["secret"]):
            return error(
                401, "Invalid username or secret", request, {"WWW-Authenticate": 'Basic realm="Mixpanel"'}
            )
        project_id = request.query_params.get("project_id")
        if not project_id:
            return error(
                400, "'project_id' is a required parameter for service account authentication", request
            )
        if project_id != credentials["project_id"]:
            return error(403, f"service account does not have access to project {project_id}", request)

        for window, per in ((per_second, "second"), (per_hour, "hour")):
            allowed, _, wait = window.try_acquire()
            if not allowed:
                # Mixpanel's answer carries no Retry-After; clients back off on the 429 itself.
                return error(
                    429, f"Query rate limit exceeded: too many queries per {per} for this project", request
                )

        params = request.query_params
        try:
            from_day, to_day = parse_date_range(
                params.get("from_date"), params.get("to_date"), ctx.store.as_of().date()
            )
            names = parse_event_names(params.get("event"))
            where = parse_where(params.get("where"))
            limit = parse_limit(params.get("limit"))
        except ExportError as exc:
            return error(400, str(exc), request)

        paths = day_files(ctx.store.world_dir / VENDOR / "events", from_day, to_day)
        wants_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
        media_type = "text/plain; charset=utf-8"
        if wants_gzip and names is None and where is None and limit is None:
            return StreamingResponse(
                raw_chunks(paths), media_type=media_type, headers={"Content-Encoding": "gzip"}
            )
        lines = selected_lines(paths, names, where, limit)
        if wants_gzip:
            return StreamingResponse(
                gzipped(lines), media_type=media_type, headers={"Content-Encoding": "gzip"}
            )
        return StreamingResponse(lines, media_type=media_type)

    async def not_found(request: Request) -> JSONResponse:
        ctx.requests.record(VENDOR, request.method, "unknown")
        return JSONResponse({"request": request.url.path, "error": "Not found"}, status_code=404)

    return Starlette(
        routes=[
            Route(EXPORT_ROUTE, export),
            Route(EXPORT_ROUTE + "/", export),
            Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )
