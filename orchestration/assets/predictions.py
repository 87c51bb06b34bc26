"""Predictions as Dagster assets in the warehouse pool: purchase and churn propensity with their model cards,
lifetime value, next best products. The logic is in cdp/predictions; these read and write the warehouse.

propensity_models reads predictions.prediction_features (dbt, features per customer and cut-off) and the
netted orders; writes predictions.customer_predictions (replaced each run) and predictions.model_cards
(appended: one row per model and run, so the next run can measure drift against the last one).

On a young or small business a stage skips or falls back instead of failing (cdp/predictions/history.py
decides and words the reason): a skipped propensity model leaves its columns null and its card says why;
lifetime value leaves the columns of a model it could not fit null; the recommender falls back to
popularity. Every table is still written with its columns, so customer_profiles and the syncs build.

No `from __future__ import annotations` here: Dagster checks the `context` annotation at definition time
and refuses a string.
"""

import json
from dataclasses import asdict

import duckdb
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_dbt import get_asset_key_for_model

from cdp.clock import as_of
from cdp.paths import warehouse_path
from cdp.predictions.clv import lifetime_values
from cdp.predictions.recommendations import run_recommendations
from cdp.predictions.scoring import TRAINED, ModelCard, cards_frame, run_predictions
from cdp.predictions.warehouse_io import SCHEMA, read_features, read_orders, replace_table
from orchestration.assets.dbt_models import cdp_dbt_models
from orchestration.instance import WAREHOUSE_POOL
from orchestration.metadata import markdown_table

CUSTOMER_PREDICTIONS = AssetKey([SCHEMA, "customer_predictions"])
MODEL_CARDS = {name: AssetKey([SCHEMA, f"{name}_model"]) for name in ("purchase", "churn")}
# customer_profiles carries the scores, so the customers scored come from customer_source_records (the same set).
UPSTREAM_MODELS = ("prediction_features", "int_orders_netted", "customer_source_records")


def _previous_distributions(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """The score distribution of each model's latest earlier run that scored anyone, if any: a run that
    skipped the model has nothing to compare with, and the one before it still does."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'model_cards'",
        [SCHEMA]).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(f"""
        select model, arg_max(score_distribution, recorded_at) from {SCHEMA}.model_cards
        where coalesce(cast(json_extract(score_distribution, '$.rows') as integer), 0) > 0
        group by model
    """).fetchall()
    return {model: json.loads(distribution) for model, distribution in rows}


def _append_cards(con: duckdb.DuckDBPyConnection, cards: list[ModelCard], run_id: str) -> None:
    frame = cards_frame(cards)
    frame["run_id"] = run_id
    frame["recorded_at"] = pd.Timestamp.now(tz="UTC")  # wall clock, only to order runs
    con.register("incoming_cards", frame)
    try:
        con.execute(f"create table if not exists {SCHEMA}.model_cards as select * from incoming_cards limit 0")
        # a card that gained a field keeps the history: older rows get null for it
        for column, column_type, *_ in con.execute("describe incoming_cards").fetchall():
            con.execute(f'alter table {SCHEMA}.model_cards add column if not exists "{column}" {column_type}')
        con.execute(f"insert into {SCHEMA}.model_cards by name select * from incoming_cards")
    finally:
        con.unregister("incoming_cards")


def _markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    return markdown_table(list(rows[0]), [tuple(f"{v:.4f}" if isinstance(v, float) else v for v in row.values())
                                          for row in rows])


def _card_metadata(card: ModelCard) -> dict:
    if card.status != TRAINED:
        # what there was to train on, and why it was not enough; no metrics, as there is no model
        return {
            "status": card.status,
            "reason": card.reason or "",
            "label": card.label,
            "training_rows": card.training_rows,
            "evaluation_rows": card.evaluation_rows,
            "uninformative_features": MetadataValue.json(card.uninformative_features),
            "scored_customers": card.scored_customers,
        }
    return {
        "status": card.status,
        "model_version": card.model_version,
        "label": card.label,
        "training_window": card.training_window,
        "training_rows": card.training_rows,
        "backtest_training_cutoffs": MetadataValue.json(card.backtest_training_cutoffs),
        "evaluation_cutoff": card.evaluation_cutoff,
        "evaluation_rows": card.evaluation_rows,
        "auc": card.auc,
        "baseline_auc_logistic_rft": card.baseline_auc,
        "expected_calibration_error": card.expected_calibration_error,
        "drift_psi_since_last_run": card.drift_psi if card.drift_psi is not None else "first run",
        "scored_customers": card.scored_customers,
        "features": MetadataValue.json(card.features),
        "uninformative_features": MetadataValue.json(card.uninformative_features),
        "lift_by_decile": MetadataValue.md(_markdown_table(card.lift_by_decile)),
        "calibration": MetadataValue.md(_markdown_table(card.calibration)),
    }


@multi_asset(
    name="propensity_models",
    specs=[
        AssetSpec(CUSTOMER_PREDICTIONS, group_name="predictions", kinds={"python", "duckdb"},
                  deps=[get_asset_key_for_model([cdp_dbt_models], name) for name in UPSTREAM_MODELS],
                  description="Purchase (30 days) and churn (180 days) probabilities and deciles per customer."),
        *[AssetSpec(key, group_name="predictions", kinds={"scikitlearn"}, deps=[CUSTOMER_PREDICTIONS],
                    description=f"Model card of the {name} propensity model (also in predictions.model_cards).")
          for name, key in MODEL_CARDS.items()],
    ],
    pool=WAREHOUSE_POOL,
)
def propensity_models(context: AssetExecutionContext):
    con = duckdb.connect(str(warehouse_path()))
    try:
        features, orders = read_features(con), read_orders(con)
        customers = con.execute(
            "select distinct customer_id from marts.customer_source_records order by customer_id").df()
        result = run_predictions(features, orders, customers["customer_id"], as_of(), _previous_distributions(con))
        replace_table(con, "customer_predictions", result.predictions)
        _append_cards(con, result.cards, context.run_id)
    finally:
        con.close()
    yield MaterializeResult(asset_key=CUSTOMER_PREDICTIONS, metadata={
        "rows": len(result.predictions),
        "model_version": result.predictions["model_version"].iloc[0] if len(result.predictions) else "",
        "scored_at": as_of().isoformat(),
        "models_trained": MetadataValue.json([card.model for card in result.cards if card.status == TRAINED]),
        "models_skipped": MetadataValue.json(result.skipped),
    })
    for name in result.skipped:
        context.log.warning(f"{name} model not trained: {result.skipped[name]}")
    # every model has a card, trained or skipped: each card asset materializes with its status and reason
    for card in result.cards:
        yield MaterializeResult(asset_key=MODEL_CARDS[card.model], metadata=_card_metadata(card))


# Lifetime value over the next year, in weeks as the BG/NBD paper counts time.
CLV_HORIZON_WEEKS = 52
# The recommender's holdout: trained on what happened up to 30 days ago, tested on the purchases since.
RECOMMENDATION_HOLDOUT_DAYS = 30


@asset(
    key=AssetKey([SCHEMA, "customer_lifetime_values"]),
    group_name="predictions",
    deps=[get_asset_key_for_model([cdp_dbt_models], "int_orders_netted")],
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description=f"BG/NBD + Gamma-Gamma: P(alive), expected purchases and value over {CLV_HORIZON_WEEKS} weeks.",
)
def customer_lifetime_values() -> MaterializeResult:
    world_clock = as_of()
    con = duckdb.connect(str(warehouse_path()))
    try:
        transactions = con.execute("""
            select customer_id, ordered_at, greatest(net_revenue, 0) as amount
            from intermediate.int_orders_netted
            where customer_id is not null and not is_cancelled and ordered_at <= ?
            order by customer_id, ordered_at
        """, [world_clock]).df()
        values = lifetime_values(transactions, world_clock, CLV_HORIZON_WEEKS)
        replace_table(con, "customer_lifetime_values", values.table)
    finally:
        con.close()
    value_column = values.table[f"expected_value_{CLV_HORIZON_WEEKS}w"]
    metadata = {
        "rows": len(values.table),
        "horizon_weeks": CLV_HORIZON_WEEKS,
        "bgnbd": MetadataValue.json(asdict(values.bgnbd)) if values.bgnbd else "not fitted",
        "gamma_gamma": MetadataValue.json(asdict(values.gamma_gamma)) if values.gamma_gamma else "not fitted",
        "fallbacks": MetadataValue.json(values.fallbacks),
    }
    if value_column.notna().any():
        metadata["expected_value_total"] = float(value_column.sum())
    return MaterializeResult(metadata=metadata)


@asset(
    key=AssetKey([SCHEMA, "product_recommendations"]),
    group_name="predictions",
    deps=[get_asset_key_for_model([cdp_dbt_models], name)
          for name in ("prediction_product_interactions", "prediction_product_catalog", "customer_profiles")],
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description="Next best products: top 10 per customer by item-item co-occurrence, popular-in-interests fallback.",
)
def product_recommendations() -> MaterializeResult:
    world_clock = as_of()
    con = duckdb.connect(str(warehouse_path()))
    try:
        interactions = con.execute(f"""
            select * from {SCHEMA}.prediction_product_interactions where occurred_at <= ?
            order by customer_id, occurred_at, product_id, interaction
        """, [world_clock]).df()
        catalog = con.execute(f"select * from {SCHEMA}.prediction_product_catalog order by product_id").df()
        customers = con.execute("select customer_id from marts.customer_profiles order by customer_id").df()
        run = run_recommendations(interactions, catalog, customers["customer_id"].tolist(), world_clock,
                                  RECOMMENDATION_HOLDOUT_DAYS)
        lists = run.lists.assign(scored_at=world_clock)
        replace_table(con, "product_recommendations", lists)
    finally:
        con.close()
    metadata = {
        "rows": len(lists),
        "reasons": MetadataValue.json(lists["reason"].value_counts().to_dict()),
        "fallback": run.fallback or "none: co-occurrence, filled up with popular products",
    }
    if run.holdout is None:
        return MaterializeResult(metadata={**metadata, "holdout_skipped": run.holdout_skipped})
    return MaterializeResult(metadata={
        **metadata,
        "holdout_cutoff": str(run.holdout.cutoff),
        "holdout_customers": run.holdout.customers,
        "hit_rate_at_10": run.holdout.hit_rate,
        "popularity_hit_rate_at_10": run.holdout.popularity_hit_rate,
    })


prediction_assets = [propensity_models, customer_lifetime_values, product_recommendations]
