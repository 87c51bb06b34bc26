"""One multi-asset per vendor: each dlt resource is an asset keyed `[vendor, resource]`.

The dbt sources are named after the vendor and their tables after the resources, so dagster-dbt's default
source keys (`[source_name, table_name]`) are exactly these keys and the lineage graph has no gap.
"""

import dlt
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from ingestion.pipeline import SOURCE_NAMES, RunReport, make_pipeline, run_source, source_factory
from orchestration.instance import WAREHOUSE_POOL


class CdpDltTranslator(DagsterDltTranslator):
    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        resource = data.resource
        return super().get_asset_spec(data).replace_attributes(
            key=AssetKey([resource.source_name, resource.name]),
            # The vendor API is not an asset of ours: no upstream key, so no dangling node in the graph.
            deps=[],
            group_name=resource.source_name,
        )


def source_for_specs(name: str) -> dlt.sources.DltSource:
    """The vendor's source, built only to read its resource names when the Definitions load.

    dlt resolves configuration when a source is called (engineering.md, trap 8). Missing secrets must not stop
    the asset graph from loading (the UI should show it even before credentials are set), so they get
    placeholders here; every run builds the source again with the real configuration. The placeholder also
    parses as a date, because sources parse `start_date` when they are built.
    """
    factory = source_factory(name)
    try:
        return factory()
    except ConfigFieldMissingException as missing:
        return factory(**{field: "1970-01-01" for field in missing.fields})


def _ingestion_assets(name: str):
    @dlt_assets(
        dlt_source=source_for_specs(name),
        dlt_pipeline=make_pipeline(name),
        name=f"{name}_ingestion",
        dagster_dlt_translator=CdpDltTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def _assets(context: AssetExecutionContext, dlt: DagsterDltResource):
        # run_source, not DagsterDltResource.run: it loads resource by resource (a failure keeps what was
        # loaded and the rerun resumes there) and counts requests, retries and schema changes.
        report = run_source(name, only=[key.path[-1] for key in context.selected_asset_keys])
        for change in report.schema_changes:
            context.log.warning(f"Schema change: {change}")
        for key in context.selected_asset_keys:
            table = key.path[-1]
            yield MaterializeResult(asset_key=key, metadata=asset_metadata(table, report))

    return _assets


def asset_metadata(table: str, report: RunReport) -> dict:
    """What one resource's asset shows: its rows (and its child tables'), the source's requests and retries
    in this run, and the schema changes that touched its tables."""
    family = {t: n for t, n in report.rows.items() if t == table or t.startswith(f"{table}__")}
    changes = [c for c in report.schema_changes if f".{table} " in f"{c} " or f".{table}:" in c or f".{table}__" in c]
    retry_reasons = {k.removeprefix("retries: "): n for k, n in report.requests.items() if k.startswith("retries: ")}
    return {
        "rows_loaded": MetadataValue.int(family.get(table, 0)),
        "rows_loaded_by_table": MetadataValue.md(_rows_table(family)),
        "source_requests": MetadataValue.int(report.requests.get("requests", 0)),
        "source_retries": MetadataValue.int(report.requests.get("retries", 0)),
        "retry_reasons": MetadataValue.json(retry_reasons),
        "schema_changes": MetadataValue.int(len(changes)),
        "schema_change_details": MetadataValue.md("\n".join(f"- {c}" for c in changes) or "none"),
    }


def _rows_table(counts: dict[str, int]) -> str:
    lines = ["| table | rows loaded |", "|---|---:|"]
    lines += [f"| {table} | {rows:,} |" for table, rows in sorted(counts.items())] or ["| (none) | 0 |"]
    return "\n".join(lines)


ingestion_assets = [_ingestion_assets(name) for name in SOURCE_NAMES]
