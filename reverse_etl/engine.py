"""The sync engine's three steps: plan (warehouse held), deliver (warehouse free), record (warehouse held).

    plan_sync (reverse_etl.plan)  ->  plan.parquet  ->  deliver()  ->  results.jsonl  ->  record()

Delivery runs outside the warehouse pool because it waits on rate-limited vendors for minutes
(engineering.md, trap 1). It reads only the run folder and writes one journal line per batch, so a run
killed mid-delivery loses nothing: the next run records the journal of the unfinished one before it plans
(`recover`), every confirmed row counts, and the rest is planned again. Operations are sent add, change,
remove in that order, so an interrupted run never leaves the destination emptier than the model wants.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import duckdb

from ingestion.http import REQUEST_STATS, SourceConfigurationError, VendorUnavailableError, stats_delta
from reverse_etl.destinations import DESTINATIONS
from reverse_etl.destinations.base import Destination, DestinationError, PlannedRow
from reverse_etl.plan import SyncSpec
from reverse_etl.state import ROW_RESULTS, RUNS, STATE, RunFolder, ensure_tables, unrecorded_runs

OPERATIONS = ("add", "change", "remove")


@dataclass
class DeliverySummary:
    succeeded: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None  # why delivery stopped early, if it did
    notes: dict[str, int] = field(default_factory=dict)
    failure_samples: list[dict[str, str]] = field(default_factory=list)


@dataclass
class RunRecord:
    run_id: str
    status: str
    succeeded: int
    failed: int


def deliver(spec: SyncSpec, run: RunFolder, full_resync: bool = False,
            progress: Callable[[str], None] = lambda message: None) -> DeliverySummary:
    """Send the run's plan to the destination, batch by batch, journaling each batch's outcome."""
    started = time.monotonic()
    summary = DeliverySummary()
    stats_before = REQUEST_STATS.snapshot(DESTINATIONS[spec.destination].vendor)
    done = _journaled_keys(run)  # an earlier attempt of this same run already delivered these
    plan = duckdb.sql(
        f"select op, key, payload, previous, destination_id from read_parquet('{run.plan}') order by op, key"
    ).fetchall()
    rows: dict[str, list[PlannedRow]] = {op: [] for op in OPERATIONS}
    for op, key, payload, previous, destination_id in plan:
        if (op, key) not in done:
            rows[op].append(PlannedRow(key, json.loads(payload), json.loads(previous) if previous else None,
                                       destination_id))
    try:
        destination = DESTINATIONS[spec.destination](spec.target, spec.fields, spec.name)
        if any(rows.values()):
            destination.prepare()
        # A full resync where the vendor can replace: the replacement drops everything not sent, so the removes
        # are done by it, and confirmed once every add went through.
        replaced = rows.pop("remove") if full_resync and destination.can_replace else None
        if replaced is not None:
            destination.begin_replace(len(rows["add"]))
        for op, op_rows in rows.items():
            size = destination.batch_sizes.get(op, 1)
            batches = [op_rows[start:start + size] for start in range(0, len(op_rows), size)]
            for done_rows, batch, encoded in _encoded_ahead(destination, op, batches):
                try:
                    result = destination.write(op, batch, encoded)
                except (VendorUnavailableError, SourceConfigurationError, DestinationError) as error:
                    run.append_results(op, [], [(row.key, str(error)) for row in batch])
                    summary.failed[op] = summary.failed.get(op, 0) + len(batch)
                    raise
                ok = [(o.key, o.destination_id) for o in result.outcomes if o.ok]
                failed = [(o.key, o.error or "failed") for o in result.outcomes if not o.ok]
                run.append_results(op, ok, failed)
                for counts, n in ((summary.succeeded, len(ok)), (summary.failed, len(failed))):
                    if n:
                        counts[op] = counts.get(op, 0) + n
                for name, value in result.notes.items():
                    summary.notes[name] = summary.notes.get(name, 0) + value
                summary.failure_samples += [{"key": k, "operation": op, "error": e} for k, e in failed][
                    : max(0, 10 - len(summary.failure_samples))]
                progress(f"{spec.name}: {op} {done_rows}/{len(op_rows)} ({len(failed)} failed in batch)")
        if replaced:
            run.append_results("remove", [(row.key, None) for row in replaced], [])
            summary.succeeded["remove"] = len(replaced)
    except (VendorUnavailableError, SourceConfigurationError, DestinationError) as error:
        # The vendor is down or refuses the configuration: later batches would fail the same way. Rows not
        # confirmed stay unconfirmed and are planned again next run.
        summary.error = str(error)
    delta = stats_delta(stats_before, REQUEST_STATS.snapshot(DESTINATIONS[spec.destination].vendor))
    summary.requests, summary.retries = delta.get("requests", 0), delta.get("retries", 0)
    summary.seconds = round(time.monotonic() - started, 3)
    (run.path / "delivery.json").write_text(json.dumps(asdict(summary)))
    return summary


def _encoded_ahead(destination: Destination, op: str, batches: list[list[PlannedRow]]):
    """Yield (rows done after this batch, batch, its encoding), encoding the next batch in a worker thread while
    the caller sends the current one (the send waits on the network, so the two overlap)."""
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1) as worker:
        upcoming = worker.submit(destination.encode, op, batches[0])
        done = 0
        for index, batch in enumerate(batches):
            encoded = upcoming.result()
            if index + 1 < len(batches):
                upcoming = worker.submit(destination.encode, op, batches[index + 1])
            done += len(batch)
            yield done, batch, encoded


def _journaled_keys(run: RunFolder) -> set[tuple[str, str]]:
    if not run.results.exists():
        return set()
    done = set()
    for line in run.results.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the line a kill cut short: its batch is sent again
        done.update((entry["op"], key) for key, _ in entry["ok"])
    return done


def record(con: duckdb.DuckDBPyConnection, spec: SyncSpec, run: RunFolder, recorded_at: datetime,
           interrupted: bool = False) -> RunRecord:
    """Write the run's per-row results, confirm what succeeded in sync_state, and close the run's row."""
    ensure_tables(con)
    con.execute("create or replace temp table sync_results (op varchar, key varchar, ok boolean, detail varchar)")
    if run.results.exists():
        # ignore_errors: the line a kill cut short is skipped (its rows stay unconfirmed).
        con.execute(f"""
            insert into sync_results
            with lines as (
                select op, ok, failed from read_json('{run.results}', format = 'newline_delimited',
                    columns = {{op: 'varchar', ok: 'varchar[][]', failed: 'varchar[][]'}}, ignore_errors = true)
            )
            select op, pair[1], true, pair[2] from (select op, unnest(ok) as pair from lines)
            union all
            select op, pair[1], false, pair[2] from (select op, unnest(failed) as pair from lines)""")
    # A row delivered twice (a retried step) counts once; success wins over an earlier failure.
    con.execute("""create or replace temp table sync_outcomes as
        select op, key, bool_or(ok) as ok, arg_max(detail, ok::int) as detail from sync_results group by op, key""")
    con.execute(f"create or replace temp table sync_planned as select * from read_parquet('{run.plan}')")
    con.execute(f"""insert into {ROW_RESULTS}
        select ?, ?, key, op, case when ok then 'succeeded' else 'failed' end,
               case when ok then null else detail end, case when ok then detail end, ?
        from sync_outcomes""", [run.run_id, spec.name, recorded_at])
    con.execute(f"""delete from {STATE} where sync_name = ? and key in (
        select key from sync_outcomes where ok and op in ('remove', 'change', 'add'))""", [spec.name])
    con.execute(f"""insert into {STATE}
        select ?, p.key, p.row_hash, p.payload, coalesce(o.detail, p.destination_id), ?
        from sync_planned p join sync_outcomes o using (op, key)
        where o.ok and p.op in ('add', 'change')""", [spec.name, recorded_at])
    succeeded, failed = con.execute(
        "select count(*) filter (where ok), count(*) filter (where not ok) from sync_outcomes").fetchone()
    delivery = json.loads((run.path / "delivery.json").read_text()) if (run.path / "delivery.json").exists() else {}
    error = delivery.get("error") or ("interrupted before delivery finished" if interrupted else None)
    status = "failed" if error else ("partial" if failed else "succeeded")
    con.execute(f"""update {RUNS} set finished_at = ?, status = ?, succeeded = ?, failed = ?, requests = ?,
        retries = ?, delivery_seconds = ?, error = ? where run_id = ? and sync_name = ?""",
                [recorded_at, status, succeeded, failed, delivery.get("requests"), delivery.get("retries"),
                 delivery.get("seconds"), error, run.run_id, spec.name])
    run.mark_recorded()
    return RunRecord(run.run_id, status, succeeded, failed)


def recover(con: duckdb.DuckDBPyConnection, spec: SyncSpec, recorded_at: datetime) -> list[RunRecord]:
    """Record the results of earlier runs of this sync that never got to their record step."""
    return [record(con, spec, run, recorded_at, interrupted=True) for run in unrecorded_runs(spec.name)]


def run_sync(spec: SyncSpec, run_id: str, warehouse: str, force: bool = False, full_resync: bool = False,
             failing_checks: tuple[str, ...] = (), progress: Callable[[str], None] = lambda message: None):
    """The three steps back to back in this process, each with its own short warehouse connection: what the
    Dagster sync asset does, for benchmarks and tests that exercise the engine without Dagster."""
    from reverse_etl.plan import plan_sync

    with duckdb.connect(warehouse) as con:
        recover(con, spec, datetime.now(UTC))
        run = RunFolder.new(spec.name, run_id)
        planned = plan_sync(con, spec, DESTINATIONS[spec.destination], run, datetime.now(UTC), force=force,
                            full_resync=full_resync, failing_checks=failing_checks)
    delivered = deliver(spec, run, full_resync, progress) if planned.planned else DeliverySummary()
    with duckdb.connect(warehouse) as con:
        recorded = record(con, spec, run, datetime.now(UTC))
    return planned, delivered, recorded
