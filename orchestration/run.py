"""Materialize the asset graph from the command line (`cdp materialize`, `cdp demo`), in this process.

Runs are recorded in the same instance the UI reads (`$CDP_HOME/dagster`), tagged as launched by cdp, and one
at a time: a file lock makes a second `cdp` run fail fast instead of queueing behind the warehouse pool.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from cdp.paths import dagster_home
from orchestration.dbt import prepare_manifest
from orchestration.instance import LAUNCHED_BY_TAG, ensure_dagster_home, free_slots_of_dead_runs


class WarehouseBusy(RuntimeError):
    pass


@contextlib.contextmanager
def run_lock() -> Iterator[None]:
    dagster_home().mkdir(parents=True, exist_ok=True)
    with open(dagster_home() / "cdp-run.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusy(
                "Another `cdp` run is materializing assets right now; wait for it to finish and try again."
            ) from None
        yield


def materialize(selection: list[str] | None = None, tags: dict[str, str] | None = None):
    """Run the `refresh` job (or the assets matching `selection`, Dagster selection syntax) to completion.

    `tags` go on the run (e.g. `cdp sync --force` sets orchestration.assets.syncs.FORCE_TAG)."""
    ensure_dagster_home()
    prepare_manifest()
    from dagster import AssetSelection, DagsterInstance

    from orchestration.definitions import defs

    with run_lock():
        instance = DagsterInstance.get()
        free_slots_of_dead_runs(instance)
        job = defs.resolve_job_def("refresh")
        asset_selection = None
        if selection:
            graph = defs.resolve_asset_graph()
            asset_selection = list(AssetSelection.from_string(" or ".join(selection)).resolve(graph))
        return job.execute_in_process(
            # INFO shows each step's start, end and materializations; DEBUG would add every output and handoff.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            instance=instance,
            tags={LAUNCHED_BY_TAG: "cdp", **(tags or {})},
            asset_selection=asset_selection,
            raise_on_error=False,
        )
