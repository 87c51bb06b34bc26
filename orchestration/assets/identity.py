"""Identity resolution as a Dagster asset between dbt models: the identity graph's dbt models upstream, the
marts (customer_source_records, customer_identifiers, identity_merges) downstream through the dbt sources
keyed to this asset. dagster-dbt's multi-asset is subsettable, so Dagster runs dbt in two steps around it.

The health checks are what the syncs consult before they send profiles anywhere (engineering.md, trap 4: a
sync in its own run looks up their latest result). Their thresholds are the seed identity_health_thresholds.
"""

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import get_asset_key_for_model

from cdp.clock import as_of
from cdp.identity.step import SCHEMA, run_resolution
from cdp.paths import warehouse_path
from orchestration.assets.dbt_models import cdp_dbt_models
from orchestration.instance import WAREHOUSE_POOL
from orchestration.metadata import markdown_table

IDENTITY_RESOLUTION = AssetKey(["identity", "identity_resolution"])
# The limits seed is upstream of these models; the health thresholds seed is read by the asset itself, so it is
# named here too (a run of identity's upstream alone would otherwise not build it).
UPSTREAM_MODELS = ("int_identity__records", "int_identity__edges", "int_identity__device_identifiers",
                   "identity_health_thresholds")
HEALTH_CHECKS = {
    "largest_component_records": "The largest profile holds at most this many records.",
    "max_identifiers_per_profile": "No profile carries more identifiers than this.",
    "multi_crm_share": "Share of profiles with CRM contacts that hold several CRM contact ids.",
}


def graph_health(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """The health measures of the latest resolution, from the tables it wrote."""
    largest, = con.execute(f"""select coalesce(max(n), 0) from (
        select count(*) n from {SCHEMA}.record_assignments group by customer_id)""").fetchone()
    identifiers, = con.execute(f"""select coalesce(max(n), 0) from (
        select a.customer_id, count(distinct (e.id_type, e.match_key)) n
        from {SCHEMA}.int_identity__edges e
        join {SCHEMA}.record_assignments a using (source, record_type, record_id)
        group by a.customer_id)""").fetchone()
    multi_crm, = con.execute(f"""select coalesce(avg((n > 1)::int), 0) from (
        select customer_id, count(*) n from {SCHEMA}.record_assignments
        where source = 'hubspot' and record_type = 'contact' group by customer_id)""").fetchone()
    return {"largest_component_records": float(largest), "max_identifiers_per_profile": float(identifiers),
            "multi_crm_share": float(multi_crm)}


def run_tables(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, MetadataValue]:
    """What a data engineer looks at after a run: profiles by size, and this run's merges and splits."""
    sizes = con.execute(f"""select case when n = 1 then '1' when n = 2 then '2' when n <= 5 then '3-5'
                                     when n <= 10 then '6-10' else '11+' end as records,
                                count(*) as profiles, sum(n) as total_records
        from (select count(*) n from {SCHEMA}.record_assignments group by customer_id)
        group by 1 order by min(n)""").fetchall()
    events = con.execute(f"""select event_type, surviving_customer_id, coalesce(retired_customer_id, new_customer_id),
            edge_id_type, edge_match_key, edge_records
        from {SCHEMA}.merge_events where run_id = ? order by event_type, surviving_customer_id limit 20""",
                         [run_id]).fetchall()  # fmt: skip
    return {
        "profiles_by_records": MetadataValue.md(markdown_table(["records", "profiles", "total records"], sizes)),
        "merges_and_splits": MetadataValue.md(markdown_table(
            ["event", "surviving id", "retired or new id", "joined by", "value", "records"], events)
            if events else "none this run"),
    }


def health_thresholds(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    return dict(con.execute(f"select metric, max_value from {SCHEMA}.identity_health_thresholds").fetchall())


@asset(
    key=IDENTITY_RESOLUTION,
    deps=[get_asset_key_for_model([cdp_dbt_models], name) for name in UPSTREAM_MODELS],
    group_name="identity",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description="Profiles from the identity graph: components, rules, stable customer ids, merge/split events.",
    check_specs=[AssetCheckSpec(name, asset=IDENTITY_RESOLUTION, description=text)
                 for name, text in HEALTH_CHECKS.items()],
)
def identity_resolution(context: AssetExecutionContext) -> MaterializeResult:
    con = duckdb.connect(str(warehouse_path()))
    try:
        summary = run_resolution(con, context.run_id, as_of())
        health = graph_health(con)
        tables = run_tables(con, context.run_id)
        thresholds = health_thresholds(con)
    finally:
        con.close()
    checks = [
        AssetCheckResult(
            check_name=name,
            passed=health[name] <= thresholds[name],
            severity=AssetCheckSeverity.ERROR,
            metadata={"value": health[name], "threshold": thresholds[name]},
        )
        for name in HEALTH_CHECKS
    ]
    return MaterializeResult(
        metadata={
            "records": summary.records,
            "identifiers": summary.values,
            "edges_kept": summary.edges,
            "components": summary.customers,
            "merges_this_run": summary.merges,
            "splits_this_run": summary.splits,
            "refused_values": summary.refused_values,
            "shared_devices": summary.shared_devices,
            "largest_component": summary.largest_component,
            "components_re_resolved": summary.greedy_components,
            "tables": MetadataValue.text(f"{SCHEMA}.record_assignments, {SCHEMA}.merge_events"),
            **tables,
        },
        check_results=checks,
    )
