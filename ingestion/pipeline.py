"""The one way to build and run an ingestion pipeline into the warehouse.

Every source loads into the DuckDB warehouse at `cdp.paths.warehouse_path()`, in a dataset (schema) named
after the vendor, so dbt reads `source('hubspot', 'contacts')` from schema `hubspot`. Pipeline state (the
incremental cursors) lives under `$CDP_HOME/pipelines`, not in the working directory, so it survives
between runs wherever they are started from.

A run is resumable: `run_source` loads a source resource by resource, each one committed with its cursor, and
a resource whose reads fail part-way (`deferred_failure`) first loads the rows it read, with the cursor that
covers them, and only then fails the run. A rerun starts where the last commit ended: nothing reloaded,
nothing skipped. A run killed hard leaves at most one package behind, which the next run finishes first.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dlt
from dlt.common.schema.exceptions import DataValidationError
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.sources import DltSource

from cdp.locks import exclusive
from cdp.paths import pipelines_dir, warehouse_path
from ingestion.http import (
    REQUEST_STATS,
    SchemaDriftError,
    SourceConfigurationError,
    VendorUnavailableError,
    stats_delta,
)

SOURCE_NAMES = ("hubspot", "shopify", "mixpanel", "klaviyo", "meta")

# Failures after which the rows already read are still worth loading: the vendor went away, refused the
# credentials part-way (a token expiring mid-run) or sent a record that breaks a frozen contract.
DEFERRABLE = (VendorUnavailableError, SourceConfigurationError, SchemaDriftError)

# Tables evolve (a new vendor field is a new nullable column, harmless to models that do not read it) but
# column types are frozen (a type change would land in a variant column the staging models never read, or
# corrupt their casts). Sources may choose per table; this is the default.
DEFAULT_CONTRACT = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}


def latest_version_wins(updated_column: str) -> dict[str, dict]:
    """Column hint for a merge table: when one run reads a record twice (it changed while the pages were being
    read), the version with the latest `updated_column` is the one kept. Without it dlt keeps either."""
    return {updated_column: {"dedup_sort": "desc"}}


def source_factory(name: str) -> Callable[..., DltSource]:
    """The `@dlt.source` function of a vendor, e.g. `source_factory("hubspot")()`."""
    if name not in SOURCE_NAMES:
        raise ValueError(f"Unknown source {name!r}: choose one of {', '.join(SOURCE_NAMES)}.")
    module = importlib.import_module(f"ingestion.{name}")
    return getattr(module, f"{name}_source")


def make_pipeline(name: str, dev_mode: bool = False) -> dlt.Pipeline:
    # Loads need no row order (tables have none). Without it DuckDB inserts in parallel and writes compressed
    # row groups as it goes; with it, a large insert is followed by a checkpoint as long as the insert itself.
    credentials = DuckDbCredentials(str(warehouse_path()), global_config={"preserve_insertion_order": False})
    # dlt makes a pipeline it has no state for by wiping its folder and creating it with exists_ok=False. Two
    # processes loading the definitions at once on a fresh home (dagster dev's code server and daemon, parallel
    # test workers) failed there with FileExistsError; one at a time, the second finds its state and attaches.
    with exclusive(pipelines_dir() / ".create.lock"):
        return dlt.pipeline(
            pipeline_name=name,
            destination=dlt.destinations.duckdb(credentials),
            dataset_name=name,
            pipelines_dir=str(pipelines_dir()),
            dev_mode=dev_mode,
            progress="log",
        )


# -- deferred failures ----------------------------------------------------------------------------------------

_deferred: list[BaseException] = []
_deferred_lock = threading.Lock()


@contextlib.contextmanager
def deferred_failure(vendor: str) -> Iterator[None]:
    """Inside a resource: on a DEFERRABLE failure, end the resource normally (its rows and cursor load) and
    keep the error for `run_source` to raise after the load."""
    try:
        yield
    except DEFERRABLE as exc:
        REQUEST_STATS.add(vendor, "runs stopped early")
        with _deferred_lock:
            _deferred.append(exc)


def _take_deferred() -> list[BaseException]:
    with _deferred_lock:
        taken = list(_deferred)
        _deferred.clear()
    return taken


# -- running a source -----------------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What one run of a source did, for logs and the Dagster metadata."""

    source: str
    rows: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    schema_changes: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rows = ", ".join(f"{t} {n:,}" for t, n in sorted(self.rows.items())) or "no rows"
        requests = ", ".join(f"{k} {n:,}" for k, n in sorted(self.requests.items())) or "no requests"
        changes = "; ".join(self.schema_changes) or "none"
        return f"{self.source}: rows {rows}; {requests}; schema changes: {changes}"

    __str__ = summary


def schema_columns(pipeline: dlt.Pipeline) -> dict[str, set[str]]:
    """table -> its columns, for the tables of the pipeline's schema that hold data."""
    if not pipeline.default_schema_name:
        return {}
    schema = pipeline.default_schema
    return {table["name"]: set(table.get("columns", {})) for table in schema.data_tables()}


def schema_changes(before: dict[str, set[str]], after: dict[str, set[str]], dataset: str) -> list[str]:
    """New tables and new columns, as sentences for a log line or a metadata entry."""
    changes = []
    for table in sorted(after):
        if table not in before:
            if before:
                changes.append(f"new table {dataset}.{table} ({len(after[table])} columns)")
            continue
        added = sorted(after[table] - before[table])
        if added:
            changes.append(f"new columns in {dataset}.{table}: {', '.join(added)}")
    return changes


def contract_message(error: DataValidationError, dataset: str) -> str:
    """What a frozen contract refused, and what to do about it."""
    table, column = error.table_name, error.column_name
    if error.schema_entity == "data_type":
        columns = (error.table_schema or {}).get("columns", {}) if isinstance(error.table_schema, dict) else {}
        expected = columns.get(column, {}).get("data_type", "its loaded type")
        return (
            f"Schema drift in table {dataset}.{table}, column {column}: the vendor now sends a value that is "
            f"not {expected}. The table's contract freezes column types because the staging models cast "
            f"this column. What to do: check the vendor's changelog; if the change is intended, convert the "
            f"value in ingestion/{dataset}/ (or declare the new type in its column hints), update the staging "
            f"model, and rerun. Nothing after the last loaded record was skipped: the rerun resumes there."
        )
    return (
        f"Schema contract of {dataset}.{table} refused a new {error.schema_entity[:-1]} "
        f"{column or table!r} (mode {error.contract_mode}). What to do: if the vendor added it on purpose, "
        f"allow it in the resource's schema_contract in ingestion/{dataset}/ and rerun."
    )


def resource_groups(source: DltSource) -> list[list[str]]:
    """The resources in load order, a transformer together with its parent (one read of the parent)."""
    groups: dict[str, list[str]] = {}
    for name, resource in source.selected_resources.items():
        parent = resource._pipe.parent.name if resource.is_transformer and resource._pipe.parent else None
        if parent in groups:
            groups[parent].append(name)
        else:
            groups[name] = [name]
    return list(groups.values())


def with_default_contract(source: DltSource) -> DltSource:
    """The default contract for every table whose resource chose none of its own."""
    if not source.schema_contract:
        source.schema_contract = DEFAULT_CONTRACT
    return source


def drop_half_normalized_packages(pipeline: dlt.Pipeline) -> None:
    """A run killed inside dlt's normalize commit (rename the normalized package into place, then delete the
    extracted one) leaves a package both extracted and normalized, and normalizing it again then fails on the
    existing folder. Nothing of it was loaded yet (loading starts after that commit): drop the normalized copies
    of packages still extracted, and the finishing run normalizes them again."""
    root = Path(pipeline.working_dir)
    extracted = root / "normalize" / "extracted"
    for package in extracted.iterdir() if extracted.is_dir() else []:
        for copy in (root / "load" / "new" / package.name, root / "load" / "normalized" / package.name):
            if copy.exists():
                shutil.rmtree(copy)


def run_source(
    name: str, report: RunReport | None = None, only: Collection[str] | None = None, **source_kwargs
) -> RunReport:
    """Load every resource of the source (or those in `only`), one committed load each, and report what
    happened.

    Raises the first failure after loading everything that could be loaded; a frozen contract becomes a
    SchemaDriftError naming table, column and what to do.
    """
    report = report or RunReport(name)
    pipeline = make_pipeline(name)
    factory = source_factory(name)
    groups = [
        kept for group in resource_groups(factory(**source_kwargs)) if (kept := [r for r in group if not only or r in only])
    ]
    report.resources = [name for group in groups for name in group]
    requests_before = REQUEST_STATS.snapshot(name)
    failures: list[BaseException] = []
    _take_deferred()
    if pipeline.has_pending_data:
        # A run killed mid-load left a package behind. Finish it first, on its own: dlt's `run` given new data
        # while a package is pending loads only the package and silently skips extracting the new data.
        drop_half_normalized_packages(pipeline)
        pipeline.run()
    for group in groups:
        columns_before = schema_columns(pipeline)
        try:
            pipeline.run(with_default_contract(factory(**source_kwargs)).with_resources(*group))
        except PipelineStepFailed as failed:
            if _contract_violation(failed):
                # The refused rows sit in a package the next run would try again and again: drop it, which
                # also puts the cursors back where the last good load left them.
                pipeline.abort_packages()
            failures.append(_explained(failed, name))
            failures.extend(_take_deferred())
            # A configuration error will fail every other resource the same way: stop at the first.
            if isinstance(failures[0], SourceConfigurationError):
                break
            continue
        normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
        counts = normalized.row_counts if normalized else {}
        for table, rows in counts.items():
            if not table.startswith("_dlt"):
                report.rows[table] = report.rows.get(table, 0) + rows
        report.schema_changes += schema_changes(columns_before, schema_columns(pipeline), name)
        failures.extend(_take_deferred())
        if failures and isinstance(failures[0], SourceConfigurationError):
            break
    report.requests = stats_delta(requests_before, REQUEST_STATS.snapshot(name))
    if failures:
        raise failures[0]
    return report


def _causes(error: BaseException) -> Iterator[BaseException]:
    cause: BaseException | None = error
    while cause is not None:
        yield cause
        cause = cause.__cause__ or cause.__context__


def _contract_violation(failed: PipelineStepFailed) -> bool:
    return any(isinstance(cause, DataValidationError) for cause in _causes(failed))


def _explained(failed: PipelineStepFailed, dataset: str) -> BaseException:
    """The useful error inside dlt's wrapper: our own errors as they are, contract violations explained."""
    for cause in _causes(failed):
        if isinstance(cause, DataValidationError):
            return SchemaDriftError(contract_message(cause, dataset))
        if isinstance(cause, DEFERRABLE):
            return cause
    return failed
