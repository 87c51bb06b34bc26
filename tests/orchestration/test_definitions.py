"""The Definitions load, the lineage from vendor to model has no gap, and every warehouse writer is pooled."""

from __future__ import annotations

import yaml
from dagster import AssetKey, GraphDefinition

from orchestration.dbt import prepare_manifest
from orchestration.instance import WAREHOUSE_POOL, ensure_dagster_home


def load_defs():
    prepare_manifest()
    from orchestration.definitions import defs

    return defs


def test_definitions_load_with_every_source_and_the_dbt_models():
    graph = load_defs().resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {"hubspot", "shopify", "mixpanel", "klaviyo", "meta"} <= groups


def test_every_dbt_source_is_an_asset_loaded_by_dlt_so_the_lineage_has_no_gap():
    graph = load_defs().resolve_asset_graph()
    materializable = {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    dangling = set()
    for key in materializable:
        for parent in graph.get(key).parent_keys:
            if parent not in materializable:
                dangling.add((key.to_user_string(), parent.to_user_string()))
    assert not dangling, f"assets depending on keys nothing materializes: {sorted(dangling)}"
    staging = [k for k in materializable if k.path[-1].startswith("stg_")]
    assert staging, "no staging models in the graph"
    for key in staging:
        parents = graph.get(key).parent_keys
        assert parents and all(len(p.path) == 2 for p in parents), f"{key} is not fed by a dlt asset: {parents}"


def test_every_asset_that_writes_the_warehouse_is_in_the_warehouse_pool():
    defs = load_defs()
    for assets_def in defs.assets:
        if isinstance(assets_def.node_def, GraphDefinition):
            # A sync: plan and record write the warehouse; delivery waits on a vendor and must not hold the pool.
            pools = {op.name.rsplit("__", 1)[1]: op.pool for op in assets_def.node_def.iterate_op_defs()}
            assert pools == {"plan": WAREHOUSE_POOL, "deliver": None, "record": WAREHOUSE_POOL}, assets_def.key
            continue
        for spec in assets_def.specs:
            assert assets_def.node_def.pool == WAREHOUSE_POOL, f"{spec.key} is outside the pool"


def test_the_instance_configuration_limits_the_warehouse_pool_to_one(isolated_cdp_home):
    home = ensure_dagster_home()
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    from dagster import DagsterInstance

    instance = DagsterInstance.from_config(str(home))
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_the_schedule_refreshes_every_asset():
    defs = load_defs()
    schedule = defs.resolve_schedule_def("hourly_refresh")
    assert schedule.job_name == "refresh"
    assert AssetKey(["hubspot", "contacts"]) in defs.resolve_job_def("refresh").asset_layer.asset_graph.get_all_asset_keys()
