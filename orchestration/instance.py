"""The Dagster instance the `cdp` commands use: `$CDP_HOME/dagster`, configured by orchestration/dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cdp.paths import dagster_home

WAREHOUSE_POOL = "warehouse"
LAUNCHED_BY_TAG = "cdp/launched_by"
_TEMPLATE = Path(__file__).with_name("dagster.yaml")


def ensure_dagster_home() -> Path:
    """Create DAGSTER_HOME with our instance configuration and point the environment at it."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != _TEMPLATE.read_text():
        shutil.copyfile(_TEMPLATE, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def free_slots_of_dead_runs(instance) -> list[str]:
    """Release pool slots still held by runs no process is executing any more.

    Only called while this process holds the run lock (orchestration.run), so no other run launched by the
    `cdp` command is alive: one of ours still marked started was killed hard and would otherwise hold the
    warehouse slot forever, because without the daemon nothing frees it (engineering.md, trap 5). Runs
    launched from the UI are left to the daemon's run monitoring.
    """
    from dagster import DagsterRunStatus, RunsFilter

    freed = []
    stuck = instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING],
            tags={LAUNCHED_BY_TAG: "cdp"},
        )
    )
    for run in stuck:
        instance.report_run_failed(run, message="Marked failed by cdp: its process is gone (killed mid-run).")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        freed.append(run.run_id)
    return freed
