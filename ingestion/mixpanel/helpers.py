"""Mixpanel I/O: download one export to a temporary file, then read it back as bounded Arrow batches.

The export is never held in memory: the response is streamed to disk as it arrives (still gzip-compressed
when the server sent gzip), and DuckDB reads the file in a streaming query whose result is fetched one
record batch at a time.
"""

from __future__ import annotations

import contextlib
import tempfile
import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ingestion.http import SchemaDriftError, TransientError, VendorSession, http_policy, with_retries
from ingestion.mixpanel.settings import DOWNLOAD_CHUNK_BYTES, EXPORT_PATH, NUMERIC_COLUMNS, PROPERTY_COLUMNS

REFUSED = {
    401: "sources.mixpanel.username and sources.mixpanel.secret (a service account's name and secret)",
    403: "sources.mixpanel.project_id, and that the service account is a member of that project",
}


class MixpanelExportError(RuntimeError):
    pass


class MixpanelSchemaDriftError(SchemaDriftError):
    """An export line no longer fits the typed columns (e.g. `time` is not a number any more)."""


class ExportCheck:
    """Checks, while the bytes arrive, that an export is whole: a gzip stream must end at the end of a
    member, plain text at the end of a line. A cut answer is retried instead of loading part of a day."""

    def __init__(self, gzipped: bool):
        self.gzipped = gzipped
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._inside_member = False
        self._last_byte = b"\n"

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._last_byte = chunk[-1:]
        data = chunk if self.gzipped else b""
        while data:
            self._inside_member = True
            try:
                # Only the integrity matters here: the inflated bytes are dropped, DuckDB reads the file.
                self._inflater.decompress(data)
            except zlib.error as exc:
                raise TransientError(f"corrupt gzip export ({exc})") from None
            if not self._inflater.eof:
                break
            # Late events are appended as further gzip members: the next one starts right after.
            data = self._inflater.unused_data
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            self._inside_member = False

    def finish(self) -> None:
        if self.gzipped and self._inside_member:
            raise TransientError("truncated gzip export")
        if not self.gzipped and self._last_byte != b"\n":
            raise TransientError("truncated export (last line incomplete)")


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
    # A strict cast: an export whose `time` stops being a number fails the load instead of loading nulls.
    epoch = "cast(properties->>'time' as double)"
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
        try:
            reader = con.execute(events_query(path)).fetch_record_batch(rows_per_batch)
        except duckdb.ConversionException as exc:
            raise MixpanelSchemaDriftError(drift_message(exc)) from None
        # insert_id is the primary key: say in the Arrow schema that it is never null, as dlt's hint does.
        key = reader.schema.get_field_index("insert_id")
        schema = reader.schema.set(key, reader.schema.field(key).with_nullable(False))
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (duckdb.ConversionException, pa.ArrowInvalid) as exc:
                raise MixpanelSchemaDriftError(drift_message(exc)) from None
            if batch.num_rows:
                yield pa.Table.from_batches([batch]).cast(schema)
    finally:
        con.close()


@contextlib.contextmanager
def downloaded_export(
    base_url: str,
    project_id: str,
    username: str,
    secret: str,
    from_day: date,
    to_day: date,
    session: VendorSession | None = None,
) -> Iterator[Path]:
    """Stream one export query to a temporary file (removed afterwards); yields its path.

    The whole download is one attempt: a connection dropped mid-body or a cut gzip stream starts it again
    (with backoff), so a half day never reaches the warehouse.
    """
    session = session or mixpanel_session()
    policy = session.policy
    with tempfile.TemporaryDirectory(prefix="mixpanel-export-") as folder:

        def download() -> Path:
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
                        f"Mixpanel export {from_day}..{to_day} failed with HTTP {response.status_code}: "
                        f"{_error_of(response)}"
                    )
                gzipped = "gzip" in response.headers.get("Content-Encoding", "").lower()
                path = Path(folder) / ("export.ndjson.gz" if gzipped else "export.ndjson")
                check = ExportCheck(gzipped)
                try:
                    with path.open("wb") as f:
                        # decode_content=False keeps the gzip bytes: DuckDB decompresses while reading.
                        while chunk := response.raw.read(DOWNLOAD_CHUNK_BYTES, decode_content=False):
                            check.feed(chunk)
                            f.write(chunk)
                except (ProtocolError, ReadTimeoutError) as exc:
                    raise TransientError(f"download broken off ({type(exc).__name__})") from None
                check.finish()
                return path

        yield with_retries("mixpanel", policy, f"export {from_day}..{to_day}", download)


def mixpanel_session() -> VendorSession:
    return VendorSession("mixpanel", http_policy("mixpanel"), refused=REFUSED)


def drift_message(exc: Exception) -> str:
    return (
        "Schema drift in table mixpanel.events, column time: an exported event's `time` is no longer epoch "
        f"seconds ({str(exc).splitlines()[0][:200]}). The table's contract freezes column types because the "
        "sessions and funnels models compute on it. What to do: check Mixpanel's export format for this project; "
        "if the change is intended, convert it in ingestion/mixpanel/helpers.py (events_query) and rerun."
    )


def _error_of(response) -> str:
    try:
        return response.json().get("error") or response.text[:500]
    except ValueError:
        return response.text[:500]
