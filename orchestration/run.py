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


def failure_summary(result) -> list[str]:
    """What a failed run tells a user: each failed step with the innermost error message (our own errors
    name the source, resource, table or setting), and how many steps did not run because of them."""
    lines = []
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        error = event.step_failure_data.error
        messages = []
        while error is not None:
            messages.append(error.message.strip())
            error = error.cause
        # The innermost cause says what is wrong; dagster's and dlt's wrappers around it only say where.
        detail = next((m for m in reversed(messages) if m), "no message")
        lines.append(f"- {event.step_key}: {detail}")
    skipped = sum(1 for event in result.all_events if event.event_type_value == "STEP_SKIPPED")
    head = f"The run failed at {len(lines)} step(s)" + (f"; {skipped} step(s) after them did not run" if skipped else "")
    return [head + ":", *lines] if lines else [head + "."]
