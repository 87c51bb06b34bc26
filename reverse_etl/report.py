"""What `cdp sync` prints: the list of syncs with their last run, and a dry run's plan.

Both read the published copy of the warehouse (cdp.warehouse), so they never wait on a build; each sync run
publishes a fresh copy when it records its results, so the copy shows what the destinations hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from cdp.paths import syncs_dir
from cdp.warehouse import read_connection
from reverse_etl.destinations import DESTINATIONS
from reverse_etl.plan import SyncRefused, SyncSpec, plan_sync


def plan_lines(spec: SyncSpec, full_resync: bool = False) -> list[str]:
    con = read_connection()
    try:
        try:
            summary = plan_sync(con, spec, DESTINATIONS[spec.destination], None, datetime.now(UTC),
                                full_resync=full_resync)
            refusal = None
        except SyncRefused as refused:
            # Show the plan anyway (without the guard) so the user sees what would have been sent.
            refusal = str(refused)
            summary = plan_sync(con, spec, DESTINATIONS[spec.destination], None, datetime.now(UTC), force=True,
                                full_resync=full_resync)
    finally:
        con.close()
    lines = [
        f"Dry run of {spec.name}: {spec.model} -> {spec.destination} {spec.target!r} ({spec.mode}); nothing sent.",
        f"  adds {summary.adds}, changes {summary.changes}, removes {summary.removes}, unchanged {summary.unchanged}"
        f" (the destination holds {summary.held})",
        f"  left out: {summary.skipped_no_consent} without {DESTINATIONS[spec.destination].consent_channel or 'n/a'}"
        f" consent, {summary.skipped_no_identifier} without a usable identifier",
    ]
    for op in ("add", "change", "remove"):
        for sample in summary.samples.get(op, []):
            lines.append(f"  {op:<6} {json.dumps(sample, default=str)[:200]}")
    if refusal:
        lines.append(f"A real run would be refused: {refusal}")
    return lines


def sync_listing(specs: list[SyncSpec]) -> list[str]:
    last_runs = {}
    try:
        con = read_connection()
        try:
            last_runs = {row[0]: row[1:] for row in con.execute(
                "select sync_name, arg_max(status, planned_at), max(planned_at), arg_max(succeeded, planned_at),"
                " arg_max(failed, planned_at) from syncs.sync_runs group by sync_name").fetchall()}
        finally:
            con.close()
    except (duckdb.CatalogException, RuntimeError):
        pass  # nothing synced (or published) yet
    lines = [f"{'sync':<44} {'mode':<7} {'state':<7} last run"]
    for spec in sorted(specs, key=lambda s: s.name):
        paused = (syncs_dir() / spec.name / "paused").exists()
        run = last_runs.get(spec.name)
        last = f"{run[0]} at {run[1]:%Y-%m-%d %H:%M} ({run[2]} ok, {run[3]} failed)" if run else "never"
        lines.append(f"{spec.name:<44} {spec.mode:<7} {'paused' if paused else 'active':<7} {last}")
    return lines
