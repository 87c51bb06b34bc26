"""Mixpanel source: the raw event export, loaded as Arrow batches into `mixpanel.events`.

Incremental by day: each run exports from a few days before the last exported day up to the world's today
(events arrive up to 72 h late), and the merge on `insert_id` ($insert_id) drops the re-read duplicates. One
export query per `days_per_export` days, so an incremental run costs one request.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from cdp.clock import as_of
from ingestion.mixpanel import helpers
from ingestion.mixpanel.settings import (
    CONTRACT,
    DEFAULT_DAYS_PER_EXPORT,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_ROWS_PER_BATCH,
)
from ingestion.pipeline import deferred_failure


@dlt.source(name="mixpanel")
def mixpanel_source(
    base_url: str = dlt.config.value,
    project_id: str = dlt.config.value,
    username: str = dlt.secrets.value,
    secret: str = dlt.secrets.value,
    start_date: str = dlt.config.value,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    days_per_export: int = DEFAULT_DAYS_PER_EXPORT,
    rows_per_batch: int = DEFAULT_ROWS_PER_BATCH,
) -> DltResource:
    """Read Mixpanel's raw export at `base_url` (https://data.mixpanel.com) with a service account.

    start_date: ISO date or date-time; the first run exports from that day.
    """
    if lookback_days < 0:
        raise ValueError(f"lookback_days must not be negative, got {lookback_days}")
    first_day = datetime.fromisoformat(start_date).date()
    session = helpers.mixpanel_session()

    @dlt.resource(name="events", primary_key="insert_id", write_disposition="merge", schema_contract=CONTRACT)
    def events() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        today = as_of().date()
        start = helpers.first_export_day(state.get("exported_through"), first_day, lookback_days, today)
        with deferred_failure("mixpanel"):
            for from_day, to_day in helpers.export_windows(start, today, days_per_export):
                with helpers.downloaded_export(base_url, project_id, username, secret, from_day, to_day, session) as path:
                    yield from helpers.read_event_batches(path, rows_per_batch)
                # Window by window: the state is committed with the rows it covers, so a run stopped by a
                # failure in a later window still loads the earlier ones, and the rerun starts after them.
                state["exported_through"] = to_day.isoformat()

    return events
