"""Mixpanel source: the raw event export, loaded as parquet files into `mixpanel.events`.

Incremental by day: each run exports from a few days before the last exported day up to the world's today
(events arrive up to 72 h late). One export query per `days_per_export` days, so an incremental run costs one
request. DuckDB turns the run's exports into one parquet file of typed rows, which dlt imports as it is: no row
passes through Python.

How rows land, exactly once:
- the first load replaces the table (truncate, then insert): every row is written once, and a run killed
  mid-load that is finished later writes the same table again;
- later loads merge insert-only on `insert_id`: the lookback's re-read events are already there and are
  skipped, late ones are added. Events are immutable in Mixpanel, so nothing needs updating.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import dlt
from dlt.sources import DltResource

from cdp.clock import as_of
from ingestion.mixpanel import helpers
from ingestion.mixpanel.settings import COLUMNS, CONTRACT, DEFAULT_DAYS_PER_EXPORT, DEFAULT_LOOKBACK_DAYS
from ingestion.pipeline import deferred_failure

FIRST_LOAD = "replace"
LATER_LOADS = {"disposition": "merge", "strategy": "insert-only"}


@dlt.source(name="mixpanel")
def mixpanel_source(
    base_url: str = dlt.config.value,
    project_id: str = dlt.config.value,
    username: str = dlt.secrets.value,
    secret: str = dlt.secrets.value,
    start_date: str = dlt.config.value,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    days_per_export: int = DEFAULT_DAYS_PER_EXPORT,
) -> DltResource:
    """Read Mixpanel's raw export at `base_url` (https://data.mixpanel.com) with a service account.

    start_date: ISO date or date-time; the first run exports from that day.
    """
    helpers.check_lookback_days(lookback_days)
    first_day = helpers.first_day(start_date)
    session = helpers.mixpanel_session()

    @dlt.resource(
        name="events",
        primary_key="insert_id",
        columns=COLUMNS,
        write_disposition=LATER_LOADS,
        schema_contract=CONTRACT,
    )
    def events() -> Iterator:
        state = dlt.current.resource_state()
        today = as_of().date()
        first_load = state.get("exported_through") is None
        hints = dlt.mark.make_hints(write_disposition=FIRST_LOAD if first_load else LATER_LOADS)
        start = helpers.first_export_day(state.get("exported_through"), first_day, lookback_days, today)
        with tempfile.TemporaryDirectory(prefix="mixpanel-export-") as name:
            folder, parquet = Path(name), Path(name) / "events.parquet"
            exports: list[helpers.Export] = []
            with deferred_failure("mixpanel"):
                for from_day, to_day in helpers.export_windows(start, today, days_per_export):
                    exports.append(helpers.download_export(
                        base_url, project_id, username, secret, from_day, to_day, folder, session))
            # What was read before a failure still loads, with the cursor that covers it: the rerun starts after.
            drift = None
            try:
                rows = helpers.exports_to_parquet(exports, parquet)
            except helpers.MixpanelSchemaDriftError as error:
                drift, exports = error, exports[: helpers.exports_before_drift(exports)]
                rows = helpers.exports_to_parquet(exports, parquet)
            if rows:
                # dlt links the file into the load package at once; the folder may go afterwards.
                yield dlt.mark.with_file_import(str(parquet), "parquet", rows, hints=hints)
            if exports:
                state["exported_through"] = exports[-1].last_day.isoformat()
            if drift:
                with deferred_failure("mixpanel"):
                    raise drift

    return events
