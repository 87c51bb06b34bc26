"""Connections to the warehouse: the one writer, and the published read copy everybody else uses.

DuckDB allows one writer process per file, and even a read-only connection from another process blocks the
writer (engineering.md, trap 1). So every build ends by publishing a copy of the warehouse (swapped
atomically); CLI commands, sensors and services read that copy and never wait on the writer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import duckdb
import pyarrow as pa

from cdp.paths import cdp_home, warehouse_path


class WarehouseNotPublished(RuntimeError):
    pass


def read_copy_path():
    return cdp_home() / "warehouse.read.duckdb"


def publish_read_copy() -> int:
    """Checkpoint the warehouse and swap a fresh copy into place; returns its size in bytes.

    Call it only from a step that holds the warehouse pool: the copy must see no writer mid-transaction.
    Readers holding the previous copy keep reading it (the rename leaves their open file intact).
    """
    con = duckdb.connect(str(warehouse_path()))
    try:
        con.execute("checkpoint")  # folds the write-ahead log into the file, so the file alone is complete
    finally:
        con.close()
    target = read_copy_path()
    tmp = target.with_suffix(".duckdb.tmp")
    shutil.copyfile(warehouse_path(), tmp)
    os.replace(tmp, target)
    return target.stat().st_size


def read_connection() -> duckdb.DuckDBPyConnection:
    """A read-only connection to the latest published copy. Never blocks, never touches the live file."""
    path = read_copy_path()
    if not path.exists():
        raise WarehouseNotPublished(
            f"No published warehouse at {path} yet: run `make demo` or `cdp materialize` first."
        )
    # Attached under the live file's catalog name: dbt's views name their tables `warehouse.<schema>.<table>`.
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{path}' as {warehouse_path().stem} (read_only)")
    con.execute(f"use {warehouse_path().stem}")
    return con


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, **tables: pa.Table) -> Iterator[None]:
    """Arrow tables visible to SQL under the given names for the length of the block."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            con.unregister(name)
