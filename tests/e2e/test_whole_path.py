"""The whole path on the embedded default: tiny world -> emulators -> dlt -> warehouse -> dbt, via Dagster.

One world and one warehouse per module; the tests run in order, as a user would: first load, a second run,
then a day of the world's life and an incremental run.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from cdp import paths
from tests.e2e.conftest import api_created, request_counts, reset_request_log
from tests.helpers.reconcile import describe, reconcile

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# The entity records the ground truth lists, and where each lands in the warehouse.
TRUTH_RECORDS = {
    ("hubspot", "contact"): "select id from hubspot.contacts",
    ("shopify", "customer"): "select id::varchar from shopify.customers",
    ("shopify", "order"): "select id::varchar from shopify.orders",
    ("klaviyo", "profile"): "select id from klaviyo.profiles",
    ("meta", "lead"): "select id from meta.leads",
    ("mixpanel", "device"): "select distinct device_id from mixpanel.events",
}


def materialize():
    from orchestration.run import materialize as run

    result = run()
    assert result.success, "the refresh run failed"
    return result


def table_counts() -> dict[tuple[str, str], int]:
    from cdp.report import source_table_counts

    return {(s, t): n for s, t, n in source_table_counts()}


def test_the_first_run_loads_exactly_what_the_emulators_serve(sandbox_url):
    materialize()
    differences = reconcile(paths.world_dir(), paths.warehouse_path())
    assert all(d.exact for d in differences), describe(differences)
    assert all(d.warehouse_rows > 0 for d in differences), "a resource loaded nothing"


def test_the_ground_truth_is_one_to_one_with_the_loaded_entity_records(sandbox_url):
    truth = pd.read_parquet(paths.sandbox_dir() / "ground_truth.parquet")
    assert not truth.duplicated(["source", "record_type", "record_id"]).any()
    con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
    try:
        for (source, record_type), sql in TRUTH_RECORDS.items():
            loaded = {row[0] for row in con.execute(sql).fetchall()}
            expected = set(truth.query("source == @source and record_type == @record_type")["record_id"])
            assert loaded == expected, f"{source} {record_type}: {len(loaded ^ expected)} records differ"
    finally:
        con.close()


def test_the_staging_models_hold_one_row_per_loaded_record(sandbox_url):
    con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
    try:
        assert con.execute("select count(*) from staging.stg_hubspot__contacts").fetchone()[0] == \
            con.execute("select count(*) from hubspot.contacts").fetchone()[0]
        assert con.execute("select count(*) from staging.stg_shopify__orders").fetchone()[0] == \
            con.execute("select count(*) from shopify.orders").fetchone()[0]
    finally:
        con.close()


def test_a_second_run_loads_nothing_twice(sandbox_url):
    before = table_counts()
    # The first run's syncs created lists and tasks in the vendors; this run loads them like any record.
    created = api_created(sandbox_url)
    reset_request_log(sandbox_url)
    materialize()
    grown = {table: n - before[table] for table, n in table_counts().items() if n != before[table]}
    assert grown == {table: len(ids) for table, ids in created.items() if ids}
    differences = reconcile(paths.world_dir(), paths.warehouse_path(), created)
    assert all(d.exact for d in differences), describe(differences)
    # Nothing changed, so every resource costs about one request (plus each vendor's fixed reads).
    counts = request_counts(sandbox_url)
    print("requests of an unchanged rerun:", counts)
    assert sum(counts.values()) <= 40, counts


def test_after_a_day_the_incremental_run_is_bounded_by_the_change_and_equals_the_emulators(sandbox_url, monkeypatch):
    from sandbox.world.advance import advance_world

    # Klaviyo has no deletion feed: its profile ids are listed every reconcile_days (7 by default) to find the
    # deleted ones. Daily here, so the day's deletion is seen by the day's run.
    monkeypatch.setenv("SOURCES__KLAVIYO__RECONCILE_DAYS", "1")

    before = table_counts()
    summary = advance_world(paths.world_dir(), 1, progress=lambda _: None)
    created = api_created(sandbox_url)  # this run loads what earlier syncs created; its own syncs come after
    reset_request_log(sandbox_url)
    materialize()
    counts = request_counts(sandbox_url)
    print("advance:", summary)
    print("requests of the incremental run:", counts)
    differences = reconcile(paths.world_dir(), paths.warehouse_path(), created)
    assert all(d.exact for d in differences), describe(differences)
    after = table_counts()
    assert after[("mixpanel", "events")] > before[("mixpanel", "events")]
    # Bounded by the change: a handful of pages per vendor, nowhere near the first load's full paging.
    assert sum(counts.values()) <= 80, counts


def test_every_declared_sync_delivered_what_its_model_says(sandbox_url):
    """After the runs above, each sync's destination holds what the warehouse intends (no row failed)."""
    import httpx

    con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
    try:
        runs = con.execute("""select sync_name, arg_max(status, planned_at) from syncs.sync_runs
            group by sync_name""").fetchall()
        held = dict(con.execute("select sync_name, count(*) from syncs.sync_state group by 1").fetchall())
        wanted = {row[0] for row in con.execute(
            "select p.primary_email from segments.lifecycle_new s join marts.customer_profiles p using (customer_id)"
            " where p.email_consent = 'subscribed' and p.primary_email is not null").fetchall()}
    finally:
        con.close()
    assert runs and all(status == "succeeded" for _, status in runs), runs
    state = httpx.get(f"{sandbox_url}/_sandbox/destinations/klaviyo", timeout=30).json()
    emails = {p["id"]: p["email"] for p in state["profiles"]}
    [members] = [entry["profile_ids"] for entry in state["lists"] if entry["name"] == "New customers"]
    assert {emails[m].lower() for m in members} == {e.lower() for e in wanted}
    assert held.get("klaviyo_list__lifecycle_new", 0) == len(wanted)


def test_a_dry_run_right_after_a_sync_plans_nothing_and_the_listing_shows_its_last_run(sandbox_url):
    from orchestration.dbt import prepare_manifest
    from orchestration.segments import sync_specs
    from reverse_etl.report import plan_lines, sync_listing

    specs = {spec.name: spec for spec in sync_specs(prepare_manifest())}
    lines = plan_lines(specs["klaviyo_list__lifecycle_new"])
    assert "adds 0, changes 0, removes 0" in lines[1], lines
    listing = sync_listing(list(specs.values()))
    assert any(line.startswith("klaviyo_list__lifecycle_new") and "succeeded" in line for line in listing), listing


def test_a_paused_sync_sends_nothing_until_resumed(sandbox_url):
    from orchestration.run import materialize as run

    name = "klaviyo_list__lifecycle_new"
    marker = paths.syncs_dir() / name / "paused"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()

    def runs() -> int:
        con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
        try:
            return con.execute("select count(*) from syncs.sync_runs where sync_name = ?", [name]).fetchone()[0]
        finally:
            con.close()

    before = runs()
    assert run([f'key:"syncs/{name}"']).success
    assert runs() == before
    marker.unlink()
    assert run([f'key:"syncs/{name}"']).success
    assert runs() == before + 1
