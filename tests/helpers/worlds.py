"""Hand-made world stores for emulator and source tests: exact control over counts and edge cases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sandbox.world.store import records_table, write_resource, write_world_json

AS_OF = datetime(2026, 10, 1, tzinfo=UTC)
STARTED_AT = datetime(2024, 10, 1, tzinfo=UTC)

CREDENTIALS = {
    "hubspot": {"access_token": "test-hubspot-token"},
    "shopify": {
        "access_token": "test-shopify-token",
        "client_id": "test-shopify-client",
        "client_secret": "test-shopify-secret",
        "shop": "sandbox-home",
    },
    "mixpanel": {"project_id": "3141592", "username": "test-sa.mp-service-account", "secret": "test-mixpanel-secret"},
    "klaviyo": {"api_key": "pk_test_klaviyo"},
    "meta": {"access_token": "test-meta-token", "ad_account_id": "1000000001", "page_id": "2000000002"},
}


def make_world(world_dir: Path, as_of: datetime = AS_OF) -> Path:
    """An empty world: world.json only. Add records with `add_records`."""
    write_world_json(
        world_dir,
        {
            "seed": 0,
            "size": "handmade",
            "as_of": as_of.isoformat(),
            "started_at": STARTED_AT.isoformat(),
            "generated_at": as_of.isoformat(),
            "rates": {},
            "credentials": CREDENTIALS,
        },
    )
    return world_dir


def add_records(world_dir: Path, vendor: str, resource: str, rows) -> None:
    """rows: iterable of (id, created_at, updated_at, body dict)."""
    write_resource(world_dir, vendor, resource, records_table(rows))
