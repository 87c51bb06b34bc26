"""Writing the world store (layout in sandbox/README.md). The generator, `advance` and test fixtures all
write through here, so the emulators read one format."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

RECORD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("body", pa.string()),
    ]
)


def write_resource(world_dir: Path, vendor: str, resource: str, table: pa.Table) -> Path:
    """Replace `<vendor>/<resource>.parquet` atomically with `table` (columns of RECORD_SCHEMA)."""
    path = Path(world_dir) / vendor / f"{resource}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA), tmp, compression="zstd")
    tmp.replace(path)
    return path


def records_table(rows: Iterable[tuple[str, datetime, datetime, dict]]) -> pa.Table:
    """Build a record table from (id, created_at, updated_at, body) tuples; handy for small worlds and tests."""
    ids, created, updated, bodies = [], [], [], []
    for record_id, created_at, updated_at, body in rows:
        ids.append(str(record_id))
        created.append(created_at)
        updated.append(updated_at)
        bodies.append(json.dumps(body, separators=(",", ":")))
    return pa.table([ids, created, updated, bodies], schema=RECORD_SCHEMA)


def write_world_json(world_dir: Path, world: dict) -> None:
    path = Path(world_dir) / "world.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(world, indent=2, default=str))
    tmp.replace(path)
