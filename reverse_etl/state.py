"""The sync engine's tables in the warehouse (schema `syncs`), and a sync's run folder under CDP_HOME.

- `syncs.sync_state`: what each destination was last *confirmed* to hold, one row per sync and key: the
  payload sent, its hash and the destination's id for it. Only confirmed writes change it, so a row that
  failed (or whose answer never came) is planned again next run.
- `syncs.sync_runs`: one row per sync and run (the Dagster run id: one run may run several syncs): mode,
  counts planned and delivered, requests, duration, status.
- `syncs.sync_row_results`: one row per delivered row and run: key, operation, status, error.

A run folder (`$CDP_HOME/syncs/<sync>/<run id>/`) carries a run between its steps: `plan.parquet` (written
while the warehouse is held), `results.jsonl` (appended and flushed after every batch, so a killed delivery
loses at most the batch in flight) and `recorded` (written once the results are in the warehouse).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cdp.paths import syncs_dir

SCHEMA = "syncs"
STATE = f"{SCHEMA}.sync_state"
RUNS = f"{SCHEMA}.sync_runs"
ROW_RESULTS = f"{SCHEMA}.sync_row_results"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"""create table if not exists {STATE} (
        sync_name varchar not null, key varchar not null, row_hash varchar not null, payload json,
        destination_id varchar, confirmed_at timestamptz not null, primary key (sync_name, key))""")
    con.execute(f"""create table if not exists {RUNS} (
        run_id varchar not null, sync_name varchar not null, destination varchar, mode varchar,
        planned_at timestamptz, finished_at timestamptz, status varchar, full_resync boolean, forced boolean,
        adds integer, changes integer, removes integer, unchanged integer, skipped_no_consent integer,
        skipped_no_identifier integer, succeeded integer, failed integer, requests integer, retries integer,
        delivery_seconds double, error varchar, primary key (sync_name, run_id))""")
    con.execute(f"""create table if not exists {ROW_RESULTS} (
        run_id varchar not null, sync_name varchar not null, key varchar not null, operation varchar not null,
        status varchar not null, error varchar, destination_id varchar, recorded_at timestamptz not null)""")


# -- run folders ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @classmethod
    def new(cls, sync_name: str, run_id: str) -> RunFolder:
        path = syncs_dir() / sync_name / run_id
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def plan(self) -> Path:
        return self.path / "plan.parquet"

    @property
    def results(self) -> Path:
        return self.path / "results.jsonl"

    @property
    def recorded(self) -> bool:
        return (self.path / "recorded").exists()

    def mark_recorded(self) -> None:
        (self.path / "recorded").write_text("")

    def append_results(self, op: str, ok: list[tuple[str, str | None]], failed: list[tuple[str, str]]) -> None:
        """One line per batch, flushed to disk before the next batch is sent: a kill loses at most the batch
        in flight, whose rows stay unconfirmed and are planned again."""
        line = json.dumps({"op": op, "ok": [[k, d] for k, d in ok], "failed": [[k, e] for k, e in failed]})
        with open(self.results, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def unrecorded_runs(sync_name: str) -> list[RunFolder]:
    """Runs of this sync that planned but never recorded their results (killed, or their step failed)."""
    folder = syncs_dir() / sync_name
    if not folder.exists():
        return []
    planned = [p for p in folder.iterdir() if p.is_dir() and (p / "plan.parquet").exists()]
    runs = [RunFolder(p) for p in sorted(planned, key=lambda p: p.stat().st_mtime)]
    return [run for run in runs if not run.recorded]
