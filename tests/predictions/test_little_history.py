"""A young or small business (weeks of history, a handful of customers, no repeat buyers, no orders at all):
every prediction stage runs or skips with a stated reason, and still returns its tables with their columns,
so customer_profiles, the segments and the syncs build."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from cdp.predictions.clv import lifetime_values
from cdp.predictions.propensity import FEATURES, PURCHASE, fit_model, label
from cdp.predictions.recommendations import LIST_COLUMNS, run_recommendations
from cdp.predictions.scoring import SKIPPED, TRAINED, cards_frame, run_predictions
from cdp.predictions.warehouse_io import replace_table
from tests.predictions.synthetic import (
    WORLD_CLOCK,
    missing_as_in_the_warehouse,
    orders_since,
    synthetic_features,
    synthetic_orders,
)

PREDICTION_COLUMNS = ["customer_id", "purchase_probability", "purchase_decile", "churn_probability",
                      "churn_decile", "model_version", "scored_at"]


def predict(orders: pd.DataFrame, customers: list[str] | None = None, features: pd.DataFrame | None = None):
    features = synthetic_features(orders) if features is None else features
    if customers is None:
        customers = sorted(orders["customer_id"].unique())
    return run_predictions(features, orders, pd.Series(customers, dtype=str), WORLD_CLOCK, previous_distributions={})


def card(result, model: str):
    return next(c for c in result.cards if c.model == model)


@pytest.fixture(scope="module")
def shop_orders() -> pd.DataFrame:
    return synthetic_orders()


# --- propensity -----------------------------------------------------------------------------------------


def test_a_shop_without_orders_gives_every_customer_a_row_with_null_scores_and_says_why():
    no_orders = synthetic_orders().iloc[:0]
    result = predict(no_orders, customers=["crm_contact_1", "crm_contact_2", "ad_lead_1"])
    assert list(result.predictions.columns) == PREDICTION_COLUMNS
    assert result.predictions["customer_id"].tolist() == ["crm_contact_1", "crm_contact_2", "ad_lead_1"]
    assert result.predictions[["purchase_probability", "churn_probability"]].isna().all().all()
    assert result.skipped["purchase"] == (
        "skipped: no history yet (no order, analytics event or email event), the purchase model needs at "
        "least 60 days: a closed 30-day label window to train on and a later one to evaluate on")
    assert "the churn model needs at least 360 days" in result.skipped["churn"]


def test_every_model_has_a_card_and_a_skipped_one_carries_the_reason_and_no_metrics():
    result = predict(synthetic_orders().iloc[:0], customers=["c1"])
    assert [(c.model, c.status) for c in result.cards] == [("purchase", SKIPPED), ("churn", SKIPPED)]
    purchase = card(result, "purchase")
    assert purchase.reason == result.skipped["purchase"]
    assert np.isnan(purchase.auc) and purchase.scored_customers == 0 and purchase.model_version == ""


def test_one_customer_is_too_few_to_train_on_and_the_reason_counts_the_rows(shop_orders):
    one = shop_orders[shop_orders["customer_id"] == shop_orders["customer_id"].iloc[0]]
    result = predict(one)
    assert len(result.predictions) == 1
    assert result.predictions["purchase_probability"].isna().all()
    assert result.skipped["purchase"].startswith("skipped: 4 training rows (known profiles at 4 cut-off(s)")
    assert "at least 120 needed" in result.skipped["purchase"]


def test_customers_with_one_order_each_leave_the_churn_model_nobody_to_train_on(shop_orders):
    first_orders = shop_orders.groupby("customer_id").head(1).head(6)
    result = predict(first_orders)
    assert result.predictions["customer_id"].tolist() == sorted(first_orders["customer_id"])
    assert result.predictions[["purchase_probability", "churn_probability"]].isna().all().all()
    assert result.skipped["churn"].startswith("skipped: 0 training rows (customers with 2 or more orders")


def test_six_weeks_of_history_are_too_short_for_either_label_window(shop_orders):
    result = predict(orders_since(shop_orders, 45))
    assert result.skipped["purchase"].startswith("skipped: 45 days of history, the purchase model needs at "
                                                 "least 60 days")
    assert result.skipped["churn"].startswith("skipped: 45 days of history, the churn model needs at least "
                                              "360 days")


def test_ten_months_of_history_train_the_purchase_model_but_not_yet_the_churn_model():
    orders = orders_since(synthetic_orders(customers=600), 300)
    result = predict(orders)
    assert card(result, "purchase").status == TRAINED
    assert result.predictions["purchase_probability"].notna().all()
    assert result.predictions["purchase_probability"].nunique() > 1, "a real ranking, not one constant"
    assert result.skipped == {"churn": "skipped: 300 days of history, the churn model needs at least 360 days: "
                                       "a closed 180-day label window to train on and a later one to evaluate on"}
    assert result.predictions["churn_probability"].isna().all()
    assert result.predictions["model_version"].str.startswith("purchase-").all()


def test_labels_all_of_one_class_skip_the_model_with_the_count_of_each_class():
    # a shop whose customers all stopped buying more than a year ago: nobody buys after any cut-off
    orders = synthetic_orders()
    stale = orders[orders["ordered_at"] < pd.Timestamp(WORLD_CLOCK - timedelta(days=420))].reset_index(drop=True)
    result = predict(stale)
    assert "hold 0 positives (bought in the 30 days after the cut-off) and" in result.skipped["purchase"]
    assert "at least 10 of each needed" in result.skipped["purchase"]
    # churn is the absence of a purchase: here everybody churned, so no negatives
    assert result.skipped["churn"].endswith("negatives, at least 10 of each needed to fit and calibrate the model")
    assert " and 0 negatives" in result.skipped["churn"]


def test_a_shop_without_analytics_or_an_email_tool_trains_both_models_and_names_the_empty_features(shop_orders):
    # the crash this guards against: a feature without any value (no email engagement anywhere) made the
    # trees fail with "window shape cannot be larger than input array shape"
    features = missing_as_in_the_warehouse(synthetic_features(shop_orders))
    features["unsubscribed_from_email"] = False  # constant too
    result = predict(shop_orders, features=features)
    assert [c.status for c in result.cards] == [TRAINED, TRAINED]
    assert result.skipped == {}
    for model in ("purchase", "churn"):
        assert {"days_since_last_event", "days_since_last_email_engagement", "unsubscribed_from_email"} <= set(
            card(result, model).uninformative_features)
        assert "orders_count" not in card(result, model).uninformative_features
    assert result.predictions["purchase_probability"].notna().all()


def test_a_feature_present_only_in_the_last_rows_is_fitted_although_one_calibration_fold_never_sees_it(shop_orders):
    features = synthetic_features(shop_orders)
    training = features[features["cutoff_index"].between(1, 4)].reset_index(drop=True)
    labels = label(training, shop_orders, PURCHASE)
    # unshuffled folds: the first two thirds of each class never see a value of this column
    training["days_since_last_email_engagement"] = np.nan
    training.loc[training.index[-20:], "days_since_last_email_engagement"] = 3.0
    model = fit_model(training, labels, seed=7)
    scores = model.predict_proba(training[FEATURES].astype(float).to_numpy())[:, 1]
    assert np.isfinite(scores).all() and len(np.unique(scores)) > 1


def test_a_model_that_would_give_everyone_the_same_score_is_skipped_rather_than_published(shop_orders):
    features = synthetic_features(shop_orders)
    features[FEATURES] = 1.0  # plenty of rows, but nothing tells the customers apart
    features["orders_count"] = 2  # everyone is in the churn population too
    result = predict(shop_orders, features=features)
    for model in ("purchase", "churn"):
        assert card(result, model).status == SKIPPED
        assert "gives all" in result.skipped[model] and "the same score" in result.skipped[model]
    assert result.predictions[["purchase_probability", "churn_probability"]].isna().all().all()


def test_predictions_of_skipped_models_reach_the_warehouse_with_the_columns_and_types_of_trained_ones(shop_orders):
    trained = predict(shop_orders).predictions
    skipped = predict(shop_orders.iloc[:0], customers=[]).predictions
    con = duckdb.connect()
    try:
        replace_table(con, "customer_predictions", trained)
        expected = con.execute("describe predictions.customer_predictions").fetchall()
        replace_table(con, "customer_predictions", skipped)
        assert con.execute("describe predictions.customer_predictions").fetchall() == expected
        assert [row[:2] for row in expected] == [
            ("customer_id", "VARCHAR"), ("purchase_probability", "DOUBLE"), ("purchase_decile", "BIGINT"),
            ("churn_probability", "DOUBLE"), ("churn_decile", "BIGINT"), ("model_version", "VARCHAR"),
            ("scored_at", "TIMESTAMP WITH TIME ZONE")]
    finally:
        con.close()


def test_cards_of_skipped_models_append_to_a_card_table_made_by_trained_ones(shop_orders):
    trained = predict(shop_orders).cards
    skipped = predict(orders_since(shop_orders, 45)).cards
    con = duckdb.connect()
    try:
        con.register("trained_cards", cards_frame(trained))
        con.execute("create table model_cards as select * from trained_cards")
        con.register("skipped_cards", cards_frame(skipped))
        con.execute("insert into model_cards by name select * from skipped_cards")
        rows = con.execute("select model, status, reason from model_cards order by status desc, model").fetchall()
    finally:
        con.close()
    assert [(m, s) for m, s, _ in rows] == [("churn", TRAINED), ("purchase", TRAINED),
                                            ("churn", SKIPPED), ("purchase", SKIPPED)]
    assert [r is None for _, _, r in rows] == [True, True, False, False]
    assert rows[3][2].startswith("skipped: 45 days of history")


# --- lifetime value -------------------------------------------------------------------------------------

CLV_COLUMNS = ["customer_id", "repeat_purchases", "recency_weeks", "age_weeks", "mean_repeat_spend",
               "probability_alive", "expected_purchases_52w", "expected_spend_per_purchase", "expected_value_52w",
               "scored_at"]
MODEL_COLUMNS = ["probability_alive", "expected_purchases_52w", "expected_spend_per_purchase", "expected_value_52w"]


def transactions(orders: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    return orders.assign(amount=np.random.default_rng(seed).gamma(2.0, 40.0, len(orders)))


def test_lifetime_value_without_orders_is_an_empty_table_with_its_columns_and_the_reasons():
    values = lifetime_values(transactions(synthetic_orders().iloc[:0]), WORLD_CLOCK, 52)
    assert list(values.table.columns) == CLV_COLUMNS and values.table.empty
    assert values.bgnbd is None and values.gamma_gamma is None
    assert values.fallbacks == {
        "bgnbd": "null values: 0 customers with a purchase, at least 30 needed to fit BG/NBD",
        "gamma_gamma": "null spend and value: 0 repeat buyers with a positive repeat spend, at least 10 needed "
                       "to fit Gamma-Gamma",
    }


def test_lifetime_value_of_a_few_one_time_buyers_keeps_their_history_and_leaves_the_estimates_null(shop_orders):
    first_orders = shop_orders.groupby("customer_id").head(1).head(5)
    values = lifetime_values(transactions(first_orders), WORLD_CLOCK, 52)
    assert list(values.table.columns) == CLV_COLUMNS
    assert sorted(values.table["customer_id"]) == sorted(first_orders["customer_id"])
    assert (values.table["repeat_purchases"] == 0).all() and values.table["age_weeks"].gt(0).all()
    assert values.table[MODEL_COLUMNS].isna().all().all()
    assert values.fallbacks["bgnbd"] == "null values: 5 customers with a purchase, at least 30 needed to fit BG/NBD"


def test_lifetime_value_with_many_buyers_but_few_repeat_buyers_does_not_fit_bgnbd(shop_orders):
    buyers = shop_orders.groupby("customer_id").head(1)
    repeaters = sorted(buyers["customer_id"])[:4]
    orders = pd.concat([buyers, shop_orders[shop_orders["customer_id"].isin(repeaters)]]).drop_duplicates()
    values = lifetime_values(transactions(orders), WORLD_CLOCK, 52)
    assert values.fallbacks["bgnbd"] == (
        f"null values: 4 of {buyers['customer_id'].nunique()} customers bought again on a later day, at least "
        "10 repeat buyers needed to fit BG/NBD's purchase and dropout rates")
    assert values.table["probability_alive"].isna().all()


def test_lifetime_value_on_six_weeks_of_history_estimates_spend_but_not_purchases_or_value(shop_orders):
    values = lifetime_values(transactions(orders_since(shop_orders, 45)), WORLD_CLOCK, 52)
    assert values.fallbacks == {"bgnbd": "null values: 6.4 weeks from the first purchase to the clock, at least "
                                         "13 needed for BG/NBD to tell customers who left from customers between "
                                         "purchases"}
    assert values.table[["probability_alive", "expected_purchases_52w", "expected_value_52w"]].isna().all().all()
    assert values.table["expected_spend_per_purchase"].notna().all()


def test_lifetime_value_of_an_established_shop_is_estimated_for_every_buyer(shop_orders):
    values = lifetime_values(transactions(shop_orders), WORLD_CLOCK, 52)
    assert values.fallbacks == {}
    assert list(values.table.columns) == CLV_COLUMNS
    assert values.table[MODEL_COLUMNS].notna().all().all()
    assert values.table["expected_value_52w"].gt(0).all()


# --- next best products ---------------------------------------------------------------------------------

DAY0 = WORLD_CLOCK - timedelta(days=60)


def interactions(rows: list[tuple]) -> pd.DataFrame:
    """rows: (customer, product, interaction, days after DAY0)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "interaction", "day"])
    frame["occurred_at"] = pd.to_datetime([DAY0 + timedelta(days=d) for d in frame.pop("day")], utc=True)
    return frame


NO_INTERACTIONS = interactions([]).astype({"customer_id": str, "product_id": str, "interaction": str})


def catalog(products: list[str], available: list[bool | None] | None = None) -> pd.DataFrame:
    # typed as the warehouse types them, also when empty
    return pd.DataFrame({"product_id": pd.Series(products, dtype=str),
                         "category": pd.Series(["sofas"] * len(products), dtype=str),
                         "is_available": pd.Series(available if available is not None else [True] * len(products),
                                                   dtype="boolean")})


def test_a_catalogue_of_one_product_offers_it_to_who_has_not_bought_it_by_popularity_only():
    shop = interactions([("a", "sofa", "purchase", 1), ("b", "sofa", "purchase", 2), ("c", "sofa", "view", 3)])
    run = run_recommendations(shop, catalog(["sofa"]), ["a", "b", "c", "newcomer"], WORLD_CLOCK, 30)
    assert run.lists[["customer_id", "product_id"]].values.tolist() == [["c", "sofa"], ["newcomer", "sofa"]]
    assert run.fallback.startswith("popularity only: none of the 3 customers with interactions has touched "
                                   "2 or more products")
    assert run.holdout is None
    assert run.holdout_skipped == f"skipped: 0 customers bought a product new to them after " \
                                  f"{(WORLD_CLOCK - timedelta(days=30)).date()}, at least 10 needed to measure a hit rate"


def test_no_product_interactions_give_empty_lists_with_their_columns_and_the_reason():
    run = run_recommendations(NO_INTERACTIONS, catalog(["sofa", "rug"]), ["a", "b"], WORLD_CLOCK, 30)
    assert run.lists.empty
    assert run.lists.dtypes.astype(str).to_dict() == LIST_COLUMNS
    assert run.fallback.startswith("no recommendations: no product views, adds to cart or purchases")
    assert run.holdout_skipped.startswith("skipped: no product interaction at or before")


def test_a_catalogue_with_nothing_in_stock_offers_nothing_and_says_so():
    shop = interactions([("a", "sofa", "purchase", 1), ("b", "rug", "purchase", 1)])
    run = run_recommendations(shop, catalog(["sofa", "rug"], [False, None]), ["a", "b", "c"], WORLD_CLOCK, 30)
    assert run.lists.empty
    assert run.fallback == ("no recommendations: none of the 2 catalogue products can be offered "
                            "(active with stock)")


def test_an_empty_catalogue_gives_empty_lists():
    run = run_recommendations(NO_INTERACTIONS, catalog([]), ["a"], WORLD_CLOCK, 30)
    assert run.lists.empty and list(run.lists.columns) == list(LIST_COLUMNS)
    assert run.fallback.startswith("no recommendations: none of the 0 catalogue products")


def test_enough_buyers_of_new_products_measure_the_holdout_and_co_occurrence_needs_no_fallback():
    rows = []
    for number in range(12):
        rows += [(f"c{number}", "tent", "purchase", 1), (f"c{number}", "stove", "purchase", 45)]
    rows += [("early", "tent", "purchase", 1), ("early", "stove", "purchase", 2)]
    shop = interactions(rows)
    run = run_recommendations(shop, catalog(["tent", "stove", "lamp"]), ["early", "c0"], WORLD_CLOCK, 30)
    assert run.fallback is None and run.holdout_skipped is None
    assert run.holdout.customers == 12 and run.holdout.hit_rate == pytest.approx(1.0)

