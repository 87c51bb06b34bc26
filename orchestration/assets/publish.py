"""The last step of every build: publish the read copy of the warehouse (cdp.warehouse)."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from cdp.warehouse import publish_read_copy, read_copy_path
from orchestration.instance import WAREHOUSE_POOL


def build_published_warehouse(upstream: list[AssetKey]):
    """An asset downstream of every other, so any build that changes the warehouse ends by publishing it."""

    @asset(
        name="published_warehouse",
        group_name="warehouse",
        deps=upstream,
        pool=WAREHOUSE_POOL,
        description="Read copy of the warehouse for CLI commands, sensors and services (never the live file).",
        kinds={"duckdb"},
    )
    def published_warehouse(context: AssetExecutionContext) -> MaterializeResult:
        size = publish_read_copy()
        return MaterializeResult(
            metadata={"path": MetadataValue.path(str(read_copy_path())), "size_mb": round(size / 1e6, 1)}
        )

    return published_warehouse
