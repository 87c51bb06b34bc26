"""The sandbox's one ASGI app: every vendor emulator mounted under its own prefix.

Base URLs (what `.dlt/config.toml` points the sources at):
  /hubspot   -> https://api.hubapi.com
  /shopify   -> https://{shop}.myshopify.com
  /mixpanel  -> https://data.mixpanel.com
  /klaviyo   -> https://a.klaviyo.com
  /meta      -> https://graph.facebook.com
  /webhook   -> a customer's webhook endpoint (webhook.py)
plus /_sandbox/ for the sandbox's own controls: health, request counts, faults (faults.py) and what the
write APIs received (`GET /_sandbox/destinations/{vendor}`, `DELETE /_sandbox/destinations`; destinations.py).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from sandbox.emulators import hubspot, klaviyo, meta, meta_audiences, mixpanel, shopify, webhook
from sandbox.emulators.common import EmulatorContext, Limits
from sandbox.emulators.destinations import VENDORS as DESTINATION_VENDORS
from sandbox.emulators.destinations import DestinationStore
from sandbox.emulators.faults import FaultBook, FaultError, FaultInjector
from sandbox.emulators.store import WorldStore

VENDORS = {"hubspot": hubspot, "shopify": shopify, "mixpanel": mixpanel, "klaviyo": klaviyo, "meta": meta}


def create_app(world_dir: Path, limits: Limits | None = None, faults: list[dict] | None = None):
    """The sandbox app. Faults: `faults`, else the JSON list in `CDP_SANDBOX_FAULTS`, else none; the
    control endpoint `/_sandbox/faults` changes them while the sandbox runs."""
    ctx = EmulatorContext(
        store=WorldStore(world_dir),
        limits=limits or Limits(),
        destinations=DestinationStore.for_world(world_dir),
    )
    book = FaultBook(faults if faults is not None else _faults_from_environment())

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "as_of": ctx.store.world()["as_of"]})

    async def requests(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            ctx.requests.reset()
        return JSONResponse({"requests": ctx.requests.snapshot()})

    async def fault_rules(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            book.clear()
        elif request.method == "POST":
            try:
                payload = await request.json()
                book.add(payload.get("faults", [payload]) if isinstance(payload, dict) else payload)
            except (ValueError, FaultError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": book.listing()})

    async def destination_state(request: Request) -> JSONResponse:
        vendor = request.path_params["vendor"]
        if vendor not in DESTINATION_VENDORS:
            return JSONResponse(
                {"error": f"No destination state for {vendor!r}: choose one of {', '.join(DESTINATION_VENDORS)}"},
                status_code=404,
            )
        summary = request.query_params.get("summary", "").lower() in ("1", "true", "yes")
        state = await run_in_threadpool(ctx.destinations.state, vendor, ctx.store, summary)
        if vendor == "meta":
            # What a benchmark may pace audience writes by (the emulator's allowance, per ad account).
            state["audience_writes_per_second"] = meta_audiences.audience_writes_per_second(ctx.limits)
        return JSONResponse(state)

    async def clear_destinations(request: Request) -> JSONResponse:
        await run_in_threadpool(ctx.destinations.clear)
        return JSONResponse({"status": "cleared"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        # The destination file belongs to this server: release it when the server stops.
        ctx.destinations.close()

    routes = [
        Route("/_sandbox/health", health),
        Route("/_sandbox/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sandbox/faults", fault_rules, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/destinations", clear_destinations, methods=["DELETE"]),
        Route("/_sandbox/destinations/{vendor}", destination_state, methods=["GET"]),
    ]
    routes += [Mount(f"/{name}", app=module.create_app(ctx)) for name, module in VENDORS.items()]
    routes += webhook.routes(ctx)
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.faults = book
    # The fault layer sits outside the vendor apps, so one mechanism serves every vendor.
    app.add_middleware(FaultInjector, book=book)
    return app


def _faults_from_environment() -> list[dict]:
    raw = os.environ.get("CDP_SANDBOX_FAULTS")
    if not raw:
        return []
    try:
        faults = json.loads(raw)
    except ValueError as exc:
        raise FaultError(f"CDP_SANDBOX_FAULTS must be a JSON list of fault rules: {exc}") from None
    return faults if isinstance(faults, list) else [faults]
