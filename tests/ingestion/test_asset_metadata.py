"""The Dagster ingestion assets report what a run did: rows per table, requests, retries and schema changes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import httpx
from dagster import materialize
from dagster_dlt import DagsterDltResource

from ingestion.pipeline import RunReport
from orchestration.assets.ingestion import asset_metadata
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import add_records, make_world
from tests.ingestion.test_meta_source import campaign, form, insight, lead


def test_metadata_names_rows_requests_retries_and_schema_changes_of_the_assets_tables():
    report = RunReport(
        "meta",
        rows={"insights": 30, "leads": 4, "leads__extra": 2},
        requests={
            "requests": 12,
            "retries": 3,
            "retries: server error (503)": 2,
            "retries: throttled (code 17)": 1,
        },
        schema_changes=["new columns in meta.leads: sandbox_new_field", "new columns in meta.insights: x"],
    )
    metadata = asset_metadata("leads", report)
    assert metadata["rows_loaded"].value == 4
    assert "leads__extra" in metadata["rows_loaded_by_table"].value
    assert (metadata["source_requests"].value, metadata["source_retries"].value) == (12, 3)
    assert metadata["retry_reasons"].value == {"server error (503)": 2, "throttled (code 17)": 1}
    assert (
        metadata["schema_changes"].value == 1
        and "sandbox_new_field" in metadata["schema_change_details"].value
    )


def test_a_materialization_reports_retries_met_on_the_way(tmp_path, monkeypatch):
    world_dir = make_world(tmp_path / "world")
    add_records(world_dir, "meta", "campaigns", [campaign(1, datetime(2026, 7, 1, tzinfo=UTC))])
    add_records(world_dir, "meta", "insights", [insight(1, date(2026, 9, 20))])
    add_records(world_dir, "meta", "leadgen_forms", [form("611000000000001")])
    add_records(world_dir, "meta", "leads", [lead(1, "611000000000001", datetime(2026, 9, 1, tzinfo=UTC))])
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        for key, value in dlt_environment(json.loads((world_dir / "world.json").read_text()), base).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CDP_AS_OF", "2026-10-01T00:00:00+00:00")
        monkeypatch.setenv("SOURCES__META__HTTP_BACKOFF_SECONDS", "0.01")
        httpx.post(
            f"{base}/_sandbox/faults", json={"vendor": "meta", "kind": "error", "status": 502, "times": 2}
        )
        from orchestration.assets.ingestion import ingestion_assets

        meta_assets = [a for a in ingestion_assets if any(k.path[0] == "meta" for k in a.keys)]
        result = materialize(meta_assets, resources={"dlt": DagsterDltResource()})
    assert result.success
    by_table = {
        m.asset_key.path[-1]: m.metadata
        for m in result.asset_materializations_for_node(meta_assets[0].node_def.name)
    }
    assert by_table["campaigns"]["rows_loaded"].value == 1
    assert by_table["leads"]["rows_loaded"].value == 1
    assert by_table["campaigns"]["source_retries"].value == 2
    assert by_table["campaigns"]["source_requests"].value >= 6
