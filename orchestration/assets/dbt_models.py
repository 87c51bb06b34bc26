"""The dbt project as assets: `dbt build` (models and their tests) in the warehouse pool."""

import json

from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from cdp.clock import as_of
from orchestration.dbt import cdp_dbt_project, dbt_environment
from orchestration.instance import WAREHOUSE_POOL

dbt_project = cdp_dbt_project()

# dlt writes a nested list to a child table (`orders__line_items`) in the same load as its parent; the dbt
# sources of child tables carry the parent resource's asset key, so several sources share one key.
translator = DagsterDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))


@dbt_assets(
    manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=translator, pool=WAREHOUSE_POOL
)
def cdp_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    dbt_environment()
    world_clock = json.dumps({"as_of": as_of().isoformat()})
    yield from dbt.cli(["build", "--vars", world_clock], context=context).stream()
