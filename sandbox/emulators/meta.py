"""Placeholder until the meta emulator lands: serves nothing."""

from starlette.applications import Starlette


def create_app(ctx) -> Starlette:
    return Starlette(routes=[])
