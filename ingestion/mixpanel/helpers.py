"""Mixpanel I/O: download exports to files, then turn them into one parquet file of typed rows.

No event is held in memory or passes through Python row by row: each response is streamed to disk as it
arrives (still gzip-compressed when the server sent gzip), and DuckDB reads the files and writes the typed rows
as parquet (in parallel, with bounded memory), which dlt imports into the load package as it is.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ingestion.http import (
    SchemaDriftError,
    SettingError,
    TransientError,
    VendorSession,
    http_policy,
    with_retries,
)
from ingestion.mixpanel.settings import (
    DOWNLOAD_CHUNK_BYTES,
    DUCKDB_MEMORY_LIMIT,
    EXPORT_PATH,
    NUMERIC_COLUMNS,
    PROPERTY_COLUMNS,
)

REFUSED = {
    401: "sources.mixpanel.username and sources.mixpanel.secret (a service account's name and secret)",
    403: "sources.mixpanel.project_id, and that the service account is a member of that project",
}


class MixpanelExportError(RuntimeError):
    pass


# -- settings, checked the same way by the source and `cdp sources check` -------------------------------------


def first_day(start_date: str) -> date:
    """The first day the first run exports."""
    try:
        return datetime.fromisoformat(str(start_date)).date()
    except ValueError:
        raise SettingError(
            f"sources.mixpanel.start_date must be an ISO 8601 date or date-time (e.g. 2024-01-01), got {start_date!r}"
        ) from None


def check_lookback_days(lookback_days: int) -> int:
    if lookback_days < 0:
        raise SettingError(f"sources.mixpanel.lookback_days must not be negative, got {lookback_days}")
    return lookback_days


def check_days_per_export(days_per_export: int) -> int:
    if days_per_export < 1:
        raise SettingError(f"sources.mixpanel.days_per_export must be at least 1, got {days_per_export}")
    return days_per_export


def check_project_id(project_id: str) -> str:
    """Mixpanel project ids are numbers (Project Settings > Overview); the export refuses anything else."""
    if not str(project_id).strip().isdigit():
        raise SettingError(f"sources.mixpanel.project_id must be the project's number, got {project_id!r}")
    return str(project_id).strip()


class MixpanelSchemaDriftError(SchemaDriftError):
    """An export line no longer fits the typed columns (e.g. `time` is not a number any more)."""


@dataclass(frozen=True)
class Export:
    """One downloaded export: its file, the last day it covers, and how many events (lines) it holds."""

    path: Path
    last_day: date
    lines: int


class ExportCheck:
    """Checks, while the bytes arrive, that an export is whole: a gzip stream must end at the end of a
    member, plain text at the end of a line. A cut answer is retried instead of loading part of a day.

    It also counts the export's lines (one event each), which the conversion must account for in full."""

    def __init__(self, gzipped: bool):
        self.gzipped = gzipped
        self.lines = 0
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._inside_member = False
        self._last_byte = b"\n"

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._last_byte = chunk[-1:]
        if not self.gzipped:
            self.lines += chunk.count(b"\n")
        data = chunk if self.gzipped else b""
        while data:
            self._inside_member = True
            try:
                # The inflated bytes are only counted and dropped: DuckDB reads the file.
                self.lines += self._inflater.decompress(data).count(b"\n")
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
    check_days_per_export(days_per_export)
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


def events_query(paths: list[Path]) -> str:
    """SQL turning Mixpanel export lines into typed rows; unknown properties stay as JSON text.

    Each line's properties are parsed once into a struct of the typed keys (one `json_transform`), and the
    typed keys are dropped from the JSON text in one merge patch (a null in a patch removes the key): a JSON
    function per typed column would parse every line seventeen times over.
    """
    keys = ["$insert_id", "time", *PROPERTY_COLUMNS.values()]
    struct = json.dumps({key: "VARCHAR" for key in keys})
    strip = json.dumps({key: None for key in keys})
    typed = [
        f"try_cast(p.\"{prop}\" as double) as {column}" if column in NUMERIC_COLUMNS else f"p.\"{prop}\" as {column}"
        for column, prop in PROPERTY_COLUMNS.items()
    ]
    # A strict cast: an export whose `time` stops being a number fails the load instead of loading nulls.
    epoch = 'cast(p."time" as double)'
    return f"""
        select
            -- $insert_id de-duplicates; an event sent without one gets a key from its content, as Mixpanel's
            -- own de-duplication falls back to event, distinct_id and time.
            coalesce(p."$insert_id", md5(concat_ws('|', event, p."distinct_id", p."time"))) as insert_id,
            event,
            -- time is epoch seconds; newer projects may export milliseconds.
            to_timestamp(case when {epoch} > 1e11 then {epoch} / 1000 else {epoch} end) as "time",
            {", ".join(typed)},
            json_merge_patch(properties, '{strip}')::varchar as properties
        from (
            select event, properties, json_transform(properties, '{struct}') as p
            from read_json({_sql_list(paths)}, format = 'newline_delimited',
                           columns = {{'event': 'VARCHAR', 'properties': 'JSON'}})
        )
    """


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_sql_text(path) for path in paths) + "]"


def _sql_text(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def exports_to_parquet(exports: list[Export], out: Path) -> int:
    """Write the typed rows of the downloaded exports to one parquet file `out`, one row per insert_id; returns
    how many rows.

    One file for the whole run: dlt loads it with one INSERT, which DuckDB spreads over its threads, where a
    file per export would be loaded one small INSERT after another.
    """
    exports = [export for export in exports if export.lines]
    if not exports:
        return 0
    con = duckdb.connect(":memory:")
    try:
        con.execute("set timezone = 'UTC'")
        # Bounded memory whatever the exports' size: DuckDB streams, and spills to disk past this.
        con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute("set preserve_insertion_order = false")
        expected = sum(export.lines for export in exports)
        rows = _copy_typed_rows(con, [export.path for export in exports], out)
        if rows != expected:
            # DuckDB 1.5's gzip reader can miss the last member of a file of many (late events arrive as further
            # members). Exports it did not read in full are read again inflated; a count still short fails.
            paths = [_inflated(export.path) if _rows_read(con, export.path) != export.lines else export.path
                     for export in exports]
            rows = _copy_typed_rows(con, paths, out)
            if rows != expected:
                raise MixpanelExportError(
                    f"Read {rows:,} events of the {expected:,} lines exported: nothing was loaded. Rerun; if it "
                    "repeats, report it with the export's dates (ingestion/mixpanel/helpers.py)."
                )
        # The raw export may repeat an event (a client that sent it twice); Mixpanel itself counts it once.
        # Repeats are rare: look for them on the key alone, and rewrite the file only when there are any.
        repeated = con.execute(
            f"select count(*) from (select insert_id from read_parquet({_sql_text(out)}) "
            "group by insert_id having count(*) > 1)"
        ).fetchone()[0]
        if repeated:
            once = out.with_name(out.stem + "-once.parquet")
            rows = con.execute(
                f"copy (select * from read_parquet({_sql_text(out)}) qualify row_number() over "
                f"(partition by insert_id order by time) = 1) to {_sql_text(once)} (format parquet)"
            ).fetchone()[0]
            once.replace(out)
        return rows
    finally:
        con.close()


def _copy_typed_rows(con: duckdb.DuckDBPyConnection, paths: list[Path], out: Path) -> int:
    try:
        return con.execute(f"copy ({events_query(paths)}) to {_sql_text(out)} (format parquet)").fetchone()[0]
    except duckdb.ConversionException as exc:
        raise MixpanelSchemaDriftError(drift_message(exc)) from None


def _rows_read(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    return con.execute(
        f"select count(*) from read_json({_sql_text(path)}, format = 'newline_delimited', "
        "columns = {'event': 'VARCHAR', 'properties': 'JSON'})"
    ).fetchone()[0]


def _inflated(path: Path) -> Path:
    if path.suffix != ".gz":
        return path
    plain = path.with_suffix("")
    with gzip.open(path, "rb") as source, plain.open("wb") as target:
        shutil.copyfileobj(source, target, DOWNLOAD_CHUNK_BYTES)
    return plain


def exports_before_drift(exports: list[Export]) -> int:
    """How many exports, from the first, fit the typed columns: the index of the first drifted one.

    Only called once a conversion failed, to load what came before the drift (one query per export)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        for index, export in enumerate(exports):
            try:
                con.execute(f'select count("time") from ({events_query([export.path])})').fetchone()
            except duckdb.ConversionException:
                return index
        return len(exports)
    finally:
        con.close()


def download_export(
    base_url: str,
    project_id: str,
    username: str,
    secret: str,
    from_day: date,
    to_day: date,
    folder: Path,
    session: VendorSession | None = None,
) -> Export:
    """Stream one export query to a file in `folder`, as the server sent it (gzip or plain).

    The whole download is one attempt: a connection dropped mid-body or a cut gzip stream starts it again
    (with backoff), so a half day never reaches the warehouse.
    """
    session = session or mixpanel_session()

    def download() -> Export:
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
            path = folder / f"export-{from_day}.ndjson{'.gz' if gzipped else ''}"
            check = ExportCheck(gzipped)
            # The check inflates each chunk on a second thread (zlib lets go of the GIL) while the next one
            # arrives: checking costs no time of its own. One chunk in flight keeps them in order.
            with path.open("wb") as f, ThreadPoolExecutor(1, thread_name_prefix="export-check") as checker:
                checked = None
                try:
                    # decode_content=False keeps the gzip bytes: DuckDB decompresses while reading.
                    while chunk := response.raw.read(DOWNLOAD_CHUNK_BYTES, decode_content=False):
                        f.write(chunk)
                        if checked:
                            checked.result()
                        checked = checker.submit(check.feed, chunk)
                except (ProtocolError, ReadTimeoutError) as exc:
                    raise TransientError(f"download broken off ({type(exc).__name__})") from None
                if checked:
                    checked.result()
            check.finish()
            return Export(path, to_day, check.lines)

    return with_retries("mixpanel", session.policy, f"export {from_day}..{to_day}", download)


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
