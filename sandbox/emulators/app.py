"""The sandbox's one ASGI app: every vendor emulator mounted under its own prefix.

Base URLs (what `.dlt/config.toml` points the sources at):
  /hubspot   -> https://api.hubapi.com
  /shopify   -> https://{shop}.myshopify.com
  /mixpanel  -> https://data.mixpanel.com
  /klaviyo   -> https://a.klaviyo.com
  /meta      -> https://graph.facebook.com
plus /_sandbox/ for the sandbox's own controls (health, request counts).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from sandbox.emulators import hubspot, klaviyo, meta, mixpanel, shopify
from sandbox.emulators.common import EmulatorContext, Limits
from sandbox.emulators.store import WorldStore

VENDORS = {"hubspot": hubspot, "shopify": shopify, "mixpanel": mixpanel, "klaviyo": klaviyo, "meta": meta}


def create_app(world_dir: Path, limits: Limits | None = None) -> Starlette:
    ctx = EmulatorContext(store=WorldStore(world_dir), limits=limits or Limits())

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "as_of": ctx.store.world()["as_of"]})

    async def requests(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            ctx.requests.reset()
        return JSONResponse({"requests": ctx.requests.snapshot()})

    routes = [
        Route("/_sandbox/health", health),
        Route("/_sandbox/requests", requests, methods=["GET", "DELETE"]),
    ]
    routes += [Mount(f"/{name}", app=module.create_app(ctx)) for name, module in VENDORS.items()]
    app = Starlette(routes=routes)
    app.state.ctx = ctx
    return app
