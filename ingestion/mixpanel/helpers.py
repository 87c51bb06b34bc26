"""Mixpanel I/O: download one export to a temporary file, then read it back as bounded Arrow batches.

The export is never held in memory: the response is streamed to disk as it arrives (still gzip-compressed
when the server sent gzip), and DuckDB reads the file in a streaming query whose result is fetched one
record batch at a time.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from dlt.sources.helpers import requests

from ingestion.mixpanel.settings import DOWNLOAD_CHUNK_BYTES, EXPORT_PATH, NUMERIC_COLUMNS, PROPERTY_COLUMNS


class MixpanelExportError(RuntimeError):
    pass


def export_windows(first_day: date, last_day: date, days_per_export: int) -> list[tuple[date, date]]:
    """Consecutive (from_date, to_date) ranges covering first_day..last_day, each at most days_per_export."""
    if days_per_export < 1:
        raise ValueError(f"days_per_export must be at least 1, got {days_per_export}")
    windows = []
    start = first_day
    while start <= last_day:
        end = min(start + timedelta(days=days_per_export - 1), last_day)
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows


def first_export_day(exported_through: str | None, start_date: date, lookback_days: int, today: date) -> date:
    """Where a run starts: the start date on the first run, else the lookback before the last exported day."""
    if exported_through is None:
        return min(start_date, today)
    return max(min(date.fromisoformat(exported_through) - timedelta(days=lookback_days), today), start_date)


def events_query(path: Path) -> str:
    """SQL turning Mixpanel export lines into typed rows; unknown properties stay as JSON text."""
    typed = []
    for column, prop in PROPERTY_COLUMNS.items():
        value = f"properties->>'{_json_path(prop)}'"
        typed.append(
            f"try_cast({value} as double) as {column}"
            if column in NUMERIC_COLUMNS
            else f"{value} as {column}"
        )
    kept_out = ", ".join(f"'{p}'" for p in ["time", "$insert_id", *PROPERTY_COLUMNS.values()])
    epoch = "try_cast(properties->>'time' as double)"
    return f"""
        select
            -- $insert_id de-duplicates; an event sent without one gets a key from its content, as Mixpanel's
            -- own de-duplication falls back to event, distinct_id and time.
            coalesce(
                properties->>'{_json_path("$insert_id")}',
                md5(concat_ws('|', event, properties->>'distinct_id', properties->>'time'))
            ) as insert_id,
            event,
            -- time is epoch seconds; newer projects may export milliseconds.
            to_timestamp(case when {epoch} > 1e11 then {epoch} / 1000 else {epoch} end) as "time",
            {", ".join(typed)},
            to_json(map_from_entries(list_filter(
                map_entries(json_transform(properties, '"MAP(VARCHAR, JSON)"')),
                lambda entry: not list_contains([{kept_out}], entry.key)
            )))::varchar as properties
        from read_json('{str(path).replace("'", "''")}', format = 'newline_delimited',
                       columns = {{'event': 'VARCHAR', 'properties': 'JSON'}})
    """


def _json_path(key: str) -> str:
    # Mixpanel's own property names start with "$", which a bare JSON path cannot hold: quote the key.
    return f'$."{key}"'


def read_event_batches(path: Path, rows_per_batch: int) -> Iterator[pa.Table]:
    if path.stat().st_size == 0:
        return
    con = duckdb.connect(":memory:")
    try:
        con.execute("set timezone = 'UTC'")
        # Order does not matter for a merge; dropping it lets DuckDB stream with less memory.
        con.execute("set preserve_insertion_order = false")
        reader = con.execute(events_query(path)).fetch_record_batch(rows_per_batch)
        # insert_id is the primary key: say in the Arrow schema that it is never null, as dlt's hint does.
        key = reader.schema.get_field_index("insert_id")
        schema = reader.schema.set(key, reader.schema.field(key).with_nullable(False))
        for batch in reader:
            if batch.num_rows:
                yield pa.Table.from_batches([batch]).cast(schema)
    finally:
        con.close()


@contextlib.contextmanager
def downloaded_export(
    base_url: str, project_id: str, username: str, secret: str, from_day: date, to_day: date
) -> Iterator[Path]:
    """Stream one export query to a temporary file (removed afterwards); yields its path."""
    # dlt's client retries 429 and 5xx with backoff; our own check below turns any other refusal into a clear
    # error carrying Mixpanel's message.
    session = requests.Client(raise_for_status=False).session
    response = session.get(
        base_url.rstrip("/") + EXPORT_PATH,
        params={"project_id": project_id, "from_date": from_day.isoformat(), "to_date": to_day.isoformat()},
        auth=(username, secret),
        headers={"Accept-Encoding": "gzip"},
        stream=True,
    )
    with response:
        if response.status_code != 200:
            raise MixpanelExportError(
                f"Mixpanel export {from_day}..{to_day} failed with HTTP {response.status_code}: {_error_of(response)}"
            )
        gzipped = "gzip" in response.headers.get("Content-Encoding", "").lower()
        with tempfile.TemporaryDirectory(prefix="mixpanel-export-") as folder:
            path = Path(folder) / ("export.ndjson.gz" if gzipped else "export.ndjson")
            with path.open("wb") as f:
                # decode_content=False keeps the gzip bytes: DuckDB decompresses while reading.
                while chunk := response.raw.read(DOWNLOAD_CHUNK_BYTES, decode_content=False):
                    f.write(chunk)
            yield path


def _error_of(response) -> str:
    try:
        return response.json().get("error") or response.text[:500]
    except ValueError:
        return response.text[:500]
