"""Segments and their syncs as assets, built from the dbt manifest's `config.meta.cdp` blocks.

- One step in the warehouse pool (`segment_memberships`) reads every segment model after dbt built it,
  records entries and exits in segments.segment_membership_history, rebuilds segments.segment_memberships,
  and materializes one asset per segment (`["segment_members", <name>]`, downstream of the segment's dbt
  model) carrying its size, entries and exits
  since the last run and a sample of members.
- One sync asset per declared sync (`["syncs", "<destination>__<segment>"]`) downstream of its segment
  (orchestration.assets.syncs: plan, deliver, record).
"""




import duckdb
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset
from dagster_dbt import get_asset_key_for_model

from cdp.activation_config import SegmentDeclaration
from cdp.clock import as_of
from cdp.paths import warehouse_path
from cdp.segments.membership import HISTORY, MEMBERSHIPS, apply_memberships
from orchestration.assets.dbt_models import cdp_dbt_models, dbt_project
from orchestration.assets.syncs import build_sync_asset
from orchestration.instance import WAREHOUSE_POOL
from orchestration.segments import load_segments, segment_relations, sync_specs

SEGMENT_MEMBERSHIPS = AssetKey(["segments", "segment_memberships"])


def segment_key(segment: SegmentDeclaration) -> AssetKey:
    """The dbt model is `["segments", <model>]` already; its membership (size, entries, exits) is this one."""
    return AssetKey(["segment_members", segment.name])


def _segment_spec(segment: SegmentDeclaration) -> AssetSpec:
    return AssetSpec(
        key=segment_key(segment),
        deps=[get_asset_key_for_model([cdp_dbt_models], segment.model)],
        group_name="segments",
        description=segment.description,
        owners=[segment.owner] if "@" in segment.owner else [],
        kinds={"duckdb"},
        metadata={"dbt_model": segment.model, "owner": segment.owner, "cadence": segment.cadence},
        tags={"cdp/cadence": segment.cadence},
    )


def _sample_table(customer_ids: list[str]) -> MetadataValue:
    rows = "\n".join(f"| {customer_id} |" for customer_id in customer_ids) or "| (no members) |"
    return MetadataValue.md(f"| customer_id |\n|---|\n{rows}")


def build_segment_assets(segments: list[SegmentDeclaration], relations: dict[str, str]):
    @multi_asset(
        name="segment_memberships",
        specs=[
            AssetSpec(
                key=SEGMENT_MEMBERSHIPS,
                deps=[get_asset_key_for_model([cdp_dbt_models], s.model) for s in segments],
                group_name="segments",
                description="Who is in which segment now (customer_id, segment_name, entered_at), and the "
                            "history of entries and exits in segments.segment_membership_history.",
                kinds={"python", "duckdb"},
            ),
            *[_segment_spec(s) for s in segments],
        ],
        pool=WAREHOUSE_POOL,
    )
    def segment_memberships(context: AssetExecutionContext):
        con = duckdb.connect(str(warehouse_path()))
        try:
            changes = apply_memberships(con, relations, as_of())
            total, = con.execute(f"select count(*) from {MEMBERSHIPS}").fetchone()
        finally:
            con.close()
        sizes = "\n".join(f"| {name} | {c.size} | {c.entered} | {c.exited} |" for name, c in sorted(changes.items()))
        yield MaterializeResult(
            asset_key=SEGMENT_MEMBERSHIPS,
            metadata={
                "memberships": total,
                "segments": len(changes),
                "sizes": MetadataValue.md(f"| segment | size | entered | exited |\n|---|---|---|---|\n{sizes}"),
                "tables": MetadataValue.text(f"{MEMBERSHIPS}, {HISTORY}"),
                "as_of": as_of().isoformat(),
            },
        )
        for segment in segments:
            change = changes[segment.name]
            yield MaterializeResult(
                asset_key=segment_key(segment),
                metadata={
                    "size": change.size,
                    "entered_since_last_run": change.entered,
                    "exited_since_last_run": change.exited,
                    "sample_members": _sample_table(change.sample),
                    "as_of": as_of().isoformat(),
                },
            )

    return segment_memberships


def segment_definitions():
    """The membership step and one sync asset per declared sync, for every segment the manifest declares."""
    segments = load_segments(dbt_project.manifest_path)
    relations = segment_relations(dbt_project.manifest_path, segments)
    by_name = {segment.name: segment for segment in segments}
    syncs = []
    for spec in sync_specs(dbt_project.manifest_path):
        segment = by_name[spec.name.split("__", 1)[1]]
        syncs.append(build_sync_asset(
            spec, segment_key(segment),
            description=f"Sync of segment {segment.name} to {spec.destination} ({spec.mode}, target "
                        f"{spec.target!r}), declared in {segment.model}'s config.meta.cdp.",
            owners=[segment.owner] if "@" in segment.owner else []))
    return build_segment_assets(segments, relations), syncs
