"""One graph-backed asset per declared sync (`["syncs", "<destination>__<segment>"]`): plan, deliver, record.

Plan and record are short steps in the warehouse pool; deliver holds no pool while it waits on the vendor
(engineering.md, trap 1), so ingestion and dbt can run meanwhile. Before planning, a sync
- skips when paused (`cdp sync <name> --pause`),
- looks up the latest identity health checks itself (trap 4: blocking checks stop only their own run) and
  refuses while one fails,
- records any earlier run of it that was killed before its record step (reverse_etl.engine.recover).
Run tags `cdp/sync_force` and `cdp/sync_full_resync` (set by `cdp sync --force / --full-resync`) pass the
user's intent to the plan. A failed delivery or refusal fails the step and posts an alert to the webhook.
"""

from datetime import UTC, datetime
from pathlib import Path

import duckdb
from dagster import (
    AssetCheckKey,
    AssetIn,
    AssetKey,
    Failure,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    graph_asset,
    op,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from cdp.paths import syncs_dir, warehouse_path
from cdp.warehouse import publish_read_copy
from orchestration.assets.identity import HEALTH_CHECKS, IDENTITY_RESOLUTION
from orchestration.instance import WAREHOUSE_POOL
from orchestration.metadata import markdown_table
from reverse_etl.destinations import DESTINATIONS
from reverse_etl.destinations.webhook import send_alert
from reverse_etl.engine import DeliverySummary, deliver, record, recover
from reverse_etl.plan import SyncRefused, SyncSpec, plan_sync
from reverse_etl.state import RunFolder

FORCE_TAG = "cdp/sync_force"
FULL_RESYNC_TAG = "cdp/sync_full_resync"


def sync_key(sync_name: str) -> AssetKey:
    return AssetKey(["syncs", sync_name])


def pause_marker(sync_name: str):
    return syncs_dir() / sync_name / "paused"


def failing_identity_checks(instance) -> tuple[str, ...]:
    """Names of identity health checks whose latest evaluation failed."""
    keys = [AssetCheckKey(IDENTITY_RESOLUTION, name) for name in HEALTH_CHECKS]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return tuple(sorted(key.name for key, execution in latest.items()
                        if execution.status == AssetCheckExecutionRecordStatus.FAILED))


def _failed_rows_table(rows: list[dict]) -> MetadataValue:
    if not rows:
        return MetadataValue.md("(none)")
    columns = list(rows[0])
    # Vendor error texts may hold a "|", which would break the table; long ones are cut.
    return MetadataValue.md(markdown_table(
        columns, [tuple(str(row.get(c, "")).replace("|", "/")[:80] for c in columns) for row in rows]))


def _fail(context: OpExecutionContext, spec: SyncSpec, message: str) -> Failure:
    alerted = send_alert(f"Sync {spec.name} failed: {message}", {"sync": spec.name, "run_id": context.run_id})
    return Failure(description=message, metadata={"alert_sent": alerted})


def build_sync_asset(spec: SyncSpec, upstream: AssetKey, description: str, owners: list[str]):
    op_name = spec.name

    @op(name=f"{op_name}__plan", pool=WAREHOUSE_POOL, ins={"upstream": In(Nothing)}, out=Out(dict))
    def plan(context: OpExecutionContext) -> dict:
        if pause_marker(spec.name).exists():
            context.log.info(f"{spec.name} is paused (`cdp sync {spec.name} --resume` resumes it); skipping.")
            return {"paused": True}
        failing = failing_identity_checks(context.instance)
        force = context.run.tags.get(FORCE_TAG) == "true"
        full_resync = context.run.tags.get(FULL_RESYNC_TAG) == "true"
        con = duckdb.connect(str(warehouse_path()))
        try:
            for earlier in recover(con, spec, datetime.now(UTC)):
                context.log.warning(f"recorded the unfinished run {earlier.run_id}: {earlier.succeeded} rows "
                                    f"confirmed, {earlier.failed} failed; the rest is planned again")
            run = RunFolder.new(spec.name, context.run_id)
            summary = plan_sync(con, spec, DESTINATIONS[spec.destination], run, datetime.now(UTC), force=force,
                                full_resync=full_resync, failing_checks=failing)
        except SyncRefused as refused:
            raise _fail(context, spec, str(refused)) from None
        finally:
            con.close()
        context.log.info(f"{spec.name}: {summary.adds} adds, {summary.changes} changes, {summary.removes} removes, "
                         f"{summary.unchanged} unchanged")
        return {"paused": False, "run_dir": str(run.path), "full_resync": full_resync, **summary.as_dict()}

    @op(name=f"{op_name}__deliver", out=Out(dict))
    def deliver_rows(context: OpExecutionContext, planned: dict) -> dict:
        if planned["paused"] or planned["adds"] + planned["changes"] + planned["removes"] == 0:
            return {**planned, "delivery": DeliverySummary().__dict__}
        summary = deliver(spec, RunFolder(Path(planned["run_dir"])), planned["full_resync"],
                          progress=context.log.info)
        return {**planned, "delivery": summary.__dict__}

    @op(name=f"{op_name}__record", pool=WAREHOUSE_POOL)
    def record_results(context: OpExecutionContext, delivered: dict):
        delivery = delivered["delivery"]
        if delivered["paused"]:
            yield Output(None, metadata={"paused": True})
            return
        con = duckdb.connect(str(warehouse_path()))
        try:
            result = record(con, spec, RunFolder(Path(delivered["run_dir"])),
                            datetime.now(UTC))
            held, = con.execute("select count(*) from syncs.sync_state where sync_name = ?", [spec.name]).fetchone()
        finally:
            con.close()
        # The read copy shows the new sync state at once (dry runs and `cdp sync` listings read it).
        publish_read_copy()
        failed = sum(delivery["failed"].values())
        if delivery["error"] or failed:
            message = delivery["error"] or f"{failed} rows failed (retried next run); see syncs.sync_row_results"
            alerted = send_alert(f"Sync {spec.name}: {message}", {"sync": spec.name, "run_id": context.run_id,
                                                                   "failed": failed})
            context.log.warning(f"{spec.name}: {message} (alert sent: {alerted})")
        if delivery["error"]:
            raise Failure(description=f"{spec.name}: delivery stopped: {delivery['error']}",
                          metadata={"succeeded": result.succeeded, "failed": result.failed})
        yield Output(None, metadata={
            "destination": spec.destination, "mode": spec.mode, "target": spec.target,
            "added": delivery["succeeded"].get("add", 0), "changed": delivery["succeeded"].get("change", 0),
            "removed": delivery["succeeded"].get("remove", 0), "failed": failed,
            "unchanged": delivered["unchanged"], "held_by_destination": held,
            "skipped_no_consent": delivered["skipped_no_consent"],
            "skipped_no_identifier": delivered["skipped_no_identifier"],
            "requests": delivery["requests"], "retries": delivery["retries"],
            "duration_seconds": delivery["seconds"],
            "request_rate_per_second": round(delivery["requests"] / delivery["seconds"], 2)
            if delivery["seconds"] else 0.0,
            "status": result.status, "run_id": result.run_id,
            "failed_rows": _failed_rows_table(delivery["failure_samples"]),
            "tables": MetadataValue.text("syncs.sync_runs, syncs.sync_row_results, syncs.sync_state"),
        })

    @graph_asset(
        name=op_name,
        key_prefix=["syncs"],
        ins={"upstream": AssetIn(key=upstream, dagster_type=Nothing)},
        group_name="syncs",
        description=description,
        owners=owners,
        kinds={spec.destination.split("_")[0]},
        metadata={"destination": spec.destination, "mode": spec.mode, "target": spec.target,
                  "model": spec.model, "fields": MetadataValue.json(spec.fields)},
    )
    def sync_asset(upstream):
        return record_results(deliver_rows(plan(upstream)))

    return sync_asset
