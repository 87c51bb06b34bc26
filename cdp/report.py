"""What `make demo` prints: rows per source table, the requests it took, what the syncs delivered, and the
world's rates."""

from __future__ import annotations

from pathlib import Path

import httpx

from cdp.paths import warehouse_path, world_dir
from cdp.warehouse import read_connection
from ingestion.pipeline import SOURCE_NAMES


def source_table_counts() -> list[tuple[str, str, int]]:
    """(schema, table, rows) for every table the sources loaded, dlt's bookkeeping tables left out.

    Read from the published copy, like every reader (cdp.warehouse)."""
    con = read_connection()
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_name not like '\\_dlt%' escape '\\' "
            "order by 1, 2",
            [list(SOURCE_NAMES)],
        ).fetchall()
        return [(s, t, con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in tables]
    finally:
        con.close()


def print_table(headers: list[str], rows: list[tuple], title: str) -> None:
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(_fmt(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("  " + "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print("  " + "  ".join(_fmt(v).rjust(w) if isinstance(v, int | float) else _fmt(v).ljust(w)
                               for v, w in zip(row, widths, strict=True)))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_world_stats(world: Path | None = None) -> None:
    from sandbox.world.stats import world_stats

    rows = world_stats(world or world_dir())
    for group in ("dirt", "behaviour"):
        print_table(
            ["metric", "brief's rate", "this world"],
            [(r["metric"], r["target"], r["actual"]) for r in rows if r["group"] == group],
            f"The world's {group} rates",
        )


def print_demo_summary(sandbox_url: str) -> None:
    counts = source_table_counts()
    print_table(["source", "table", "rows"], counts, f"Rows per source table in {warehouse_path()}")
    requests = httpx.get(f"{sandbox_url}/_sandbox/requests", timeout=10).json()["requests"]
    per_vendor: dict[str, int] = {}
    for r in requests:
        per_vendor[r["vendor"]] = per_vendor.get(r["vendor"], 0) + r["count"]
    print_table(["vendor", "requests"], sorted(per_vendor.items()),
                "Requests made to the sandbox (ingestion reads and sync writes)")
    print_table(["sync", "status", "sent", "failed", "held", "left out (consent)", "requests"], sync_runs(),
                "Syncs: the latest run of each, and what its destination now holds")
    print_world_stats()


def sync_runs() -> list[tuple]:
    con = read_connection()
    try:
        return con.execute("""
            select r.sync_name, r.status, coalesce(r.succeeded, 0), coalesce(r.failed, 0),
                   (select count(*) from syncs.sync_state s where s.sync_name = r.sync_name),
                   r.skipped_no_consent, coalesce(r.requests, 0)
            from syncs.sync_runs r
            qualify row_number() over (partition by r.sync_name order by r.planned_at desc) = 1
            order by r.sync_name""").fetchall()
    finally:
        con.close()
