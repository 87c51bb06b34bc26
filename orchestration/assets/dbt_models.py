"""The dbt project as assets: `dbt build` (models and their tests) in the warehouse pool."""

from __future__ import annotations

import json

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from cdp.clock import as_of
from orchestration.dbt import cdp_dbt_project, dbt_environment
from orchestration.instance import WAREHOUSE_POOL

dbt_project = cdp_dbt_project()


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool=WAREHOUSE_POOL)
def cdp_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    dbt_environment()
    world_clock = json.dumps({"as_of": as_of().isoformat()})
    yield from dbt.cli(["build", "--vars", world_clock], context=context).stream()
