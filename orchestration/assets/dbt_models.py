"""The dbt project as assets: `dbt build` (models and their tests) in the warehouse pool."""

import json
import os
import shutil
from pathlib import Path

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
    invocation = dbt.cli(["build", "--vars", world_clock], context=context)
    yield from invocation.stream()
    keep_parse_state(invocation.target_path)


def keep_parse_state(invocation_target: Path) -> None:
    """Make this build's parse state the one the next build starts from.

    dagster-dbt seeds each build's own target folder with the project's target/partial_parse.msgpack, but dbt
    parses everything again when the vars or the profile differ from the ones that state was made with: the
    clock var always differs from `dbt parse`'s, so each of a run's dbt steps re-parsed the whole project
    (4 s each here). Left behind by this build, it lets the run's next dbt steps parse only what changed;
    dbt still checks vars, profile and files before using it.
    """
    state = invocation_target / "partial_parse.msgpack"
    if not state.exists():
        return
    kept = Path(dbt_project.project_dir) / dbt_project.target_path / "partial_parse.msgpack"
    staged = kept.with_name(f"partial_parse.{os.getpid()}.tmp")
    shutil.copyfile(state, staged)
    os.replace(staged, kept)  # atomic: a build starting now copies the old state or the new, never half
