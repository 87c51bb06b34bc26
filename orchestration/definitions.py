"""The one Definitions object (loaded by workspace.yaml)."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, ScheduleDefinition, define_asset_job, in_process_executor
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from orchestration.assets.dbt_models import cdp_dbt_models, dbt_project
from orchestration.assets.identity import identity_resolution
from orchestration.assets.ingestion import ingestion_assets
from orchestration.assets.predictions import prediction_assets
from orchestration.assets.publish import build_published_warehouse
from orchestration.assets.reports import report_headlines
from orchestration.assets.segments import segment_definitions
from orchestration.dbt import dbt_executable

# Everything: ingest every source, then build the models downstream of them.
refresh_job = define_asset_job("refresh", selection=AssetSelection.all())

# Segments and their syncs come from the dbt manifest's config.meta.cdp blocks: no Python per segment.
segment_memberships, segment_syncs = segment_definitions()
warehouse_assets = [*ingestion_assets, cdp_dbt_models, identity_resolution, segment_memberships, report_headlines]
# Propensity, lifetime value and next best products: read by the syncs, so published with the rest.
warehouse_assets += prediction_assets
published_warehouse = build_published_warehouse([key for assets in warehouse_assets for key in assets.keys])

defs = Definitions(
    assets=[*warehouse_assets, published_warehouse, *segment_syncs],
    jobs=[refresh_job],
    schedules=[ScheduleDefinition(name="hourly_refresh", job=refresh_job, cron_schedule="0 * * * *")],
    resources={"dlt": DagsterDltResource(), "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    # Steps in one process: the multiprocess executor costs ~1.8 s per step on 2 cores (engineering.md, trap
    # 10), and every step here writes the one DuckDB file anyway.
    executor=in_process_executor,
)
