"""The sync assets: one per declared sync, and the identity health they consult before sending anything.

Orchestration modules are imported inside the tests: dagster-dbt reads the manifest at import, so it must be
prepared first (engineering.md, trap 6).
"""

from __future__ import annotations

from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, DagsterInstance

from orchestration.dbt import prepare_manifest


def test_every_declared_sync_is_an_asset_downstream_of_its_model():
    manifest = prepare_manifest()
    from orchestration.definitions import defs
    from orchestration.segments import sync_specs

    graph = defs.resolve_asset_graph()
    for spec in sync_specs(manifest):
        node = graph.get(AssetKey(["syncs", spec.name]))
        assert node.is_materializable and node.parent_keys, spec.name


def test_a_failed_identity_health_check_is_found_by_a_sync_in_another_run():
    prepare_manifest()
    from orchestration.assets.identity import IDENTITY_RESOLUTION
    from orchestration.assets.syncs import failing_identity_checks

    instance = DagsterInstance.ephemeral()
    assert failing_identity_checks(instance) == ()
    for name, passed in (("largest_component_records", False), ("multi_crm_share", True)):
        instance.report_runless_asset_event(AssetCheckEvaluation(
            asset_key=IDENTITY_RESOLUTION, check_name=name, passed=passed, severity=AssetCheckSeverity.ERROR))
    assert failing_identity_checks(instance) == ("largest_component_records",)
    # the next evaluation passes: the sync may run again
    instance.report_runless_asset_event(AssetCheckEvaluation(
        asset_key=IDENTITY_RESOLUTION, check_name="largest_component_records", passed=True))
    assert failing_identity_checks(instance) == ()
