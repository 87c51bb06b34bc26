"""Read access to the world store (sandbox/README.md) for the emulators.

Each request runs one small DuckDB query over the resource's parquet file, so an emulator always serves
what the file holds now (generate and advance swap files atomically) without caching anything.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb


class WorldStore:
    def __init__(self, world_dir: Path):
        self.world_dir = Path(world_dir)
        self._local = threading.local()

    # -- the world's metadata ------------------------------------------------------------------------
    def world(self) -> dict[str, Any]:
        return json.loads((self.world_dir / "world.json").read_text())

    def as_of(self) -> datetime:
        return datetime.fromisoformat(self.world()["as_of"])

    def credentials(self, vendor: str) -> dict[str, str]:
        return self.world()["credentials"][vendor]

    # -- records -------------------------------------------------------------------------------------
    def path(self, vendor: str, resource: str) -> Path:
        return self.world_dir / vendor / f"{resource}.parquet"

    def has(self, vendor: str, resource: str) -> bool:
        return self.path(vendor, resource).exists()

    def query(self, vendor: str, resource: str, sql: str, params: list | None = None) -> list[tuple]:
        """Run `sql` with `records` bound to the resource's rows (id, created_at, updated_at, body).

        Example: store.query("hubspot", "contacts", "select body from records where updated_at >= ? "
        "order by id limit ?", [since, 100]).
        """
        path = self.path(vendor, resource)
        if not path.exists():
            return []
        con = self._connection()
        # The view is re-read on every query, so a file swapped by `advance` is seen at once.
        con.execute(f"create or replace temp view records as select * from read_parquet('{_sql_literal(path)}')")
        return con.execute(sql, params or []).fetchall()

    def bodies(self, vendor: str, resource: str, sql: str, params: list | None = None) -> list[dict]:
        """Like `query`, for a statement whose first column is `body`: returns the parsed records."""
        return [json.loads(row[0]) for row in self.query(vendor, resource, sql, params)]

    def _connection(self) -> duckdb.DuckDBPyConnection:
        # One in-memory connection per server thread: DuckDB connections are not shared across threads.
        con = getattr(self._local, "con", None)
        if con is None:
            con = duckdb.connect(":memory:")
            con.execute("set timezone = 'UTC'")
            self._local.con = con
        return con


def _sql_literal(path: Path) -> str:
    return str(path).replace("'", "''")
