"""The whole path on the embedded default: tiny world -> emulators -> dlt -> warehouse -> dbt, via Dagster.

One world and one warehouse per module; the tests run in order, as a user would: first load, a second run,
then a day of the world's life and an incremental run.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from cdp import paths
from tests.e2e.conftest import request_counts, reset_request_log
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
    reset_request_log(sandbox_url)
    materialize()
    assert table_counts() == before
    differences = reconcile(paths.world_dir(), paths.warehouse_path())
    assert all(d.exact for d in differences), describe(differences)
    # Nothing changed, so every resource costs about one request (plus each vendor's fixed reads).
    counts = request_counts(sandbox_url)
    print("requests of an unchanged rerun:", counts)
    assert sum(counts.values()) <= 40, counts


def test_after_a_day_the_incremental_run_is_bounded_by_the_change_and_equals_the_emulators(sandbox_url):
    from sandbox.world.advance import advance_world

    before = table_counts()
    summary = advance_world(paths.world_dir(), 1, progress=lambda _: None)
    reset_request_log(sandbox_url)
    materialize()
    counts = request_counts(sandbox_url)
    print("advance:", summary)
    print("requests of the incremental run:", counts)
    differences = reconcile(paths.world_dir(), paths.warehouse_path())
    assert all(d.exact for d in differences), describe(differences)
    after = table_counts()
    assert after[("mixpanel", "events")] > before[("mixpanel", "events")]
    # Bounded by the change: a handful of pages per vendor, nowhere near the first load's full paging.
    assert sum(counts.values()) <= 80, counts
