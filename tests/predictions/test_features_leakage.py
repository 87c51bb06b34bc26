"""The predictions on the tiny world, built through the whole asset graph.

Leakage: features as of a cut-off use nothing after it. Deleting every order, refund, cancellation,
analytics event and email event later than T and rebuilding the features gives identical rows for every
cut-off at or before T. Then what a user of the scores relies on: one row per customer, no product offered
that the customer bought or that is out of stock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime

import duckdb
import pytest

from cdp import clock, paths

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FEATURE_MODELS = ["prediction_cutoffs", "prediction_features"]


@pytest.fixture(scope="module")
def warehouse(refreshed_home):
    return paths.warehouse_path()


def forget_everything_after(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> int:
    """Make the raw tables look as if the world had been loaded at `cutoff`; returns the rows deleted."""
    t = cutoff.isoformat()
    statements = [
        f"delete from shopify.orders__line_items where _dlt_parent_id in "
        f"(select _dlt_id from shopify.orders where created_at > '{t}')",
        f"delete from shopify.orders__refunds__transactions where _dlt_parent_id in "
        f"(select _dlt_id from shopify.orders__refunds where created_at > '{t}')",
        f"delete from shopify.orders__refunds where created_at > '{t}'",
        f"delete from shopify.orders where created_at > '{t}'",
        f"delete from mixpanel.events where time > '{t}'",
        f"delete from klaviyo.events where attributes__datetime > '{t}'",
    ]
    deleted = sum(con.execute(sql).fetchone()[0] for sql in statements)
    # a cancellation is an event too: at T the order was still standing
    con.execute(f"update shopify.orders set cancelled_at = null where cancelled_at > '{t}'")
    return deleted


def build_features(warehouse_file, target_dir) -> None:
    """dbt in its own process, as the orchestration runs it: dbt-duckdb keeps its connection open in the
    process that ran it, and this test opens the file again right after."""
    from orchestration.dbt import dbt_executable

    result = subprocess.run(
        [dbt_executable(), "run", "--quiet", "--select", *FEATURE_MODELS,
         "--project-dir", str(paths.dbt_project_dir()), "--profiles-dir", str(paths.dbt_project_dir()),
         "--target-path", str(target_dir), "--vars", json.dumps({"as_of": clock.as_of().isoformat()})],
        env={**os.environ, "CDP_WAREHOUSE": str(warehouse_file)}, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"dbt failed: {result.stdout[-2000:]}"


def features(warehouse_file, max_cutoff: datetime) -> list[tuple]:
    con = duckdb.connect(str(warehouse_file), read_only=True)
    try:
        return con.execute(
            "select * from predictions.prediction_features where cutoff_at <= ? order by cutoff_at, customer_id",
            [max_cutoff],
        ).fetchall()
    finally:
        con.close()


def test_deleting_every_fact_after_the_cutoff_leaves_the_features_unchanged(warehouse, tmp_path):
    original = duckdb.connect(str(warehouse), read_only=True)
    [(cutoff,)] = original.execute(
        "select cutoff_at from predictions.prediction_cutoffs where cutoff_index = 3").fetchall()
    original.close()

    # same file name as the live one: dbt's views name their tables `warehouse.<schema>.<table>`
    (tmp_path / "truncated").mkdir()
    truncated_file = tmp_path / "truncated" / warehouse.name
    shutil.copyfile(warehouse, truncated_file)
    con = duckdb.connect(str(truncated_file))
    deleted = forget_everything_after(con, cutoff)
    con.close()
    assert deleted > 0, "the world had nothing after the cut-off, so the test would prove nothing"

    build_features(truncated_file, tmp_path / "dbt_target")

    before = features(warehouse, cutoff)
    after = features(truncated_file, cutoff)
    assert before, "no features at or before the cut-off"
    assert after == before


def test_later_cutoffs_do_see_the_later_facts(warehouse):
    # the guard against a vacuous pass: features at the world clock differ from those 90 days earlier
    con = duckdb.connect(str(warehouse), read_only=True)
    counts = dict(con.execute(
        "select cutoff_index, sum(orders_count) + sum(events_last_90_days) from predictions.prediction_features "
        "where cutoff_index in (0, 3) group by cutoff_index").fetchall())
    con.close()
    assert counts[0] != counts[3]


def test_every_current_customer_has_one_prediction_row_scored_on_the_world_clock(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        profiles = {r[0] for r in con.execute("select customer_id from marts.customer_profiles").fetchall()}
        rows = con.execute("select customer_id, scored_at from predictions.customer_predictions").fetchall()
    finally:
        con.close()
    assert sorted(r[0] for r in rows) == sorted(profiles)
    assert {r[1] for r in rows} == {clock.as_of()}


def test_no_customer_is_offered_a_product_they_bought_or_one_out_of_stock(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        [(bought, unavailable, listed)] = con.execute("""
            select
                count(*) filter (where exists (
                    select 1 from predictions.prediction_product_interactions i
                    where i.customer_id = r.customer_id and i.product_id = r.product_id
                      and i.interaction = 'purchase')),
                count(*) filter (where not c.is_available),
                count(*)
            from predictions.product_recommendations r
            join predictions.prediction_product_catalog c using (product_id)
        """).fetchall()
    finally:
        con.close()
    assert listed > 0
    assert (bought, unavailable) == (0, 0)
