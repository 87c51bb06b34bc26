"""The prediction assets on the warehouse of a six-week-old shop, then of an established one: every asset
materializes, writes its table with the usual columns, and says in its metadata and the model cards why a
model was skipped. The inputs are written straight into the warehouse (no dbt, no sandbox)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, materialize

from cdp import paths
from tests.predictions.synthetic import WORLD_CLOCK, orders_since, synthetic_features, synthetic_orders

pytestmark = pytest.mark.slow


def write_warehouse(orders: pd.DataFrame) -> None:
    """The tables the prediction assets read, as the dbt models would hold them for these orders."""
    customers = pd.DataFrame({"customer_id": sorted(orders["customer_id"].unique())}, dtype=str)
    orders_netted = orders.assign(is_cancelled=False, net_revenue=80.0)
    interactions = orders.assign(product_id=[f"p{i % 3}" for i in range(len(orders))], interaction="purchase")
    interactions = interactions.rename(columns={"ordered_at": "occurred_at"})
    catalog = pd.DataFrame({"product_id": ["p0", "p1", "p2"], "category": ["sofas", "rugs", "lamps"],
                            "is_available": [True, True, False]})
    tables = {
        "predictions.prediction_features": synthetic_features(orders),
        "intermediate.int_orders_netted": orders_netted,
        "marts.customer_source_records": customers,
        "marts.customer_profiles": customers,
        "predictions.prediction_product_interactions": interactions[
            ["customer_id", "product_id", "interaction", "occurred_at"]],
        "predictions.prediction_product_catalog": catalog,
    }
    paths.warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.warehouse_path()))
    try:
        for name, frame in tables.items():
            con.execute(f"create schema if not exists {name.split('.')[0]}")
            con.register("incoming", frame)
            con.execute(f"create or replace table {name} as select * from incoming")
            con.unregister("incoming")
    finally:
        con.close()


def run_assets():
    from orchestration.assets.predictions import prediction_assets

    result = materialize(prediction_assets)
    assert result.success
    return {event.asset_key: event.metadata
            for node in ("propensity_models", "predictions__customer_lifetime_values",
                         "predictions__product_recommendations")
            for event in result.asset_materializations_for_node(node)}


def query(sql: str) -> list[tuple]:
    con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def columns(table: str) -> list[str]:
    return [row[0] for row in query(f"describe predictions.{table}")]


@pytest.fixture(scope="module")
def runs(e2e_home):
    """A run on six weeks of history, then one on two years of it, in the same warehouse."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CDP_AS_OF", WORLD_CLOCK.isoformat())
    orders = synthetic_orders()
    try:
        write_warehouse(orders_since(orders, 45))
        young = run_assets()
        young_tables = {table: (columns(table), query(f"select count(*) from predictions.{table}")[0][0])
                        for table in ("customer_predictions", "customer_lifetime_values",
                                      "product_recommendations")}
        write_warehouse(orders)
        established = run_assets()
        yield young, young_tables, established
    finally:
        mp.undo()


def key(name: str) -> AssetKey:
    return AssetKey(["predictions", name])


def test_a_six_week_old_shop_materializes_every_prediction_asset_and_says_why_models_were_skipped(runs):
    young, _, _ = runs
    skipped = young[key("customer_predictions")]["models_skipped"].value
    assert skipped["purchase"].startswith("skipped: 45 days of history, the purchase model needs at least 60")
    assert skipped["churn"].startswith("skipped: 45 days of history, the churn model needs at least 360")
    for model in ("purchase", "churn"):
        card = young[key(f"{model}_model")]
        assert card["status"].value == "skipped"
        assert card["reason"].value == skipped[model]


def test_the_young_shops_tables_keep_their_columns_so_customer_profiles_can_read_them(runs):
    _, tables, _ = runs
    prediction_columns, predicted_rows = tables["customer_predictions"]
    assert prediction_columns == ["customer_id", "purchase_probability", "purchase_decile", "churn_probability",
                                  "churn_decile", "model_version", "scored_at"]
    assert predicted_rows > 0, "every current customer has a row, with null scores"
    assert "expected_value_52w" in tables["customer_lifetime_values"][0]
    assert tables["product_recommendations"][0] == ["customer_id", "rank", "product_id", "score", "reason",
                                                    "scored_at"]


def test_the_model_cards_table_holds_the_skipped_runs_reasons_beside_the_trained_runs(runs):
    rows = query("select model, status, reason is null from predictions.model_cards order by recorded_at, model")
    assert rows == [("churn", "skipped", False), ("purchase", "skipped", False),
                    ("churn", "trained", True), ("purchase", "trained", True)]


def test_a_run_after_skipped_ones_has_no_earlier_distribution_to_measure_drift_against(runs):
    _, _, established = runs
    for model in ("purchase", "churn"):
        card = established[key(f"{model}_model")]
        assert card["status"].value == "trained"
        assert card["drift_psi_since_last_run"].value == "first run"


def test_lifetime_value_and_recommendations_report_their_fallbacks_on_the_young_shop(runs):
    young, _, established = runs
    assert young[key("customer_lifetime_values")]["fallbacks"].value["bgnbd"].startswith(
        "null values: 6.4 weeks from the first purchase to the clock, at least 13 needed")
    assert young[key("customer_lifetime_values")]["bgnbd"].value == "not fitted"
    assert established[key("customer_lifetime_values")]["fallbacks"].value == {}
    # six weeks hold the 30-day holdout and enough buyers of products new to them: it is measured, not skipped
    recommendations = young[key("product_recommendations")]
    assert "holdout_skipped" not in recommendations and recommendations["holdout_customers"].value >= 10
    assert recommendations["fallback"].value == "none: co-occurrence, filled up with popular products"
