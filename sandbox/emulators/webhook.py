"""A webhook receiver (mounted at /webhook): the sandbox end of the generic webhook destination and alerts.

`POST /webhook/{path}` (or `/webhook` itself) with a JSON body is recorded in the destination state with
its path, headers (all but Authorization), body, `Idempotency-Key` and bearer token, and answered
`200 {"status": "received", "delivery": n, "duplicate": <the key was seen before>}`; every delivery is
kept, duplicates included, so a test can count retries. `Authorization: Bearer <token>` is checked against
`credentials.webhook.token` when the world has one, and otherwise only recorded. Above
DELIVERIES_PER_SECOND (times `Limits.scale`) the receiver answers 429 with Retry-After, as a busy endpoint
would. Faults (faults.py) hit it like any vendor.
"""

from __future__ import annotations

import json
import math
import secrets
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from sandbox.emulators.common import EmulatorContext, RollingWindow, scaled
from sandbox.emulators.destinations import insert_rows

VENDOR = "webhook"
DELIVERIES_PER_SECOND = 50


def receiver(ctx: EmulatorContext):
    """The endpoint that takes deliveries."""
    window = RollingWindow(max(1, int(scaled(DELIVERIES_PER_SECOND, ctx.limits))), 1.0)
    store = ctx.destinations

    async def deliver(request: Request) -> JSONResponse:
        path = "/" + request.path_params.get("path", "")
        ctx.requests.record(VENDOR, request.method, path)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = (ctx.store.world()["credentials"].get(VENDOR) or {}).get("token")
        if request.headers.get("authorization") and (scheme.lower() != "bearer" or not token.strip()):
            return JSONResponse({"error": "Authorization must be 'Bearer <token>'."}, status_code=401)
        if expected and not secrets.compare_digest(token.strip(), expected):
            return JSONResponse({"error": "Missing or wrong bearer token."}, status_code=401)
        allowed, _, wait = window.try_acquire()
        if not allowed:
            return JSONResponse({"error": f"More than {window.limit} deliveries per second: slow down."},
                                status_code=429, headers={"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "The body must be JSON."}, status_code=400)
        key = request.headers.get("idempotency-key")
        headers = {name: value for name, value in request.headers.items() if name != "authorization"}

        def record() -> tuple[int, bool]:
            with store.transaction() as cursor:
                seq, seen = cursor.execute(
                    "select coalesce(max(seq), 0) + 1, count(*) filter (where idempotency_key = ?) "
                    "from webhook_deliveries", [key]).fetchone()  # fmt: skip
                insert_rows(cursor, "webhook_deliveries", [{
                    "seq": seq, "path": path, "headers": json.dumps(headers), "body": json.dumps(body),
                    "idempotency_key": key, "bearer_token": token.strip() or None,
                    "received_at": time.time()}])  # fmt: skip
            return seq, key is not None and seen > 0

        seq, duplicate = await run_in_threadpool(record)
        return JSONResponse({"status": "received", "delivery": seq, "duplicate": duplicate})

    return deliver


def routes(ctx: EmulatorContext) -> list:
    """`/webhook` and everything under it, sharing one receiver (and so one rate window)."""
    deliver = receiver(ctx)
    return [
        Route("/webhook", deliver, methods=["POST"]),
        Mount("/webhook", routes=[Route("/{path:path}", deliver, methods=["POST"])]),
    ]
