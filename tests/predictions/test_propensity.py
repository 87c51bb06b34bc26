"""Propensity on a synthetic shop: labels from the window after the cut-off, an honest time split, and the
same data and seed giving the same scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from cdp.predictions.propensity import CHURN, PURCHASE, backtest_split, deciles, label
from cdp.predictions.scoring import run_predictions
from tests.predictions.synthetic import WORLD_CLOCK, synthetic_features, synthetic_orders


@pytest.fixture(scope="module")
def shop():
    orders = synthetic_orders()
    return orders, synthetic_features(orders)


def test_a_purchase_counts_only_inside_the_window_after_the_cutoff():
    cutoff = pd.Timestamp(datetime(2026, 1, 1, tzinfo=UTC))
    features = pd.DataFrame({"customer_id": ["on_cutoff", "day_30", "day_31"], "cutoff_at": [cutoff] * 3})
    orders = pd.DataFrame({
        "customer_id": ["on_cutoff", "day_30", "day_31"],
        "ordered_at": [cutoff, cutoff + timedelta(days=30), cutoff + timedelta(days=31)],
    })
    assert label(features, orders, PURCHASE).tolist() == [0, 1, 0]
    # churn inverts it over its own 180-day window
    assert label(features, orders, CHURN).tolist() == [1, 0, 0]


def test_training_windows_close_before_the_evaluation_cutoff_and_its_window_closes_by_the_clock():
    cutoffs = [WORLD_CLOCK - timedelta(days=30 * i) for i in range(15)]
    for target in (PURCHASE, CHURN):
        split = backtest_split(cutoffs, WORLD_CLOCK, target)
        window = timedelta(days=target.window_days)
        assert split.evaluation + window <= WORLD_CLOCK
        assert all(c + window <= split.evaluation for c in split.training)
        assert split.training, target.name


def test_a_history_too_short_for_two_windows_has_no_backtest_split():
    # 30 days close one purchase window (the evaluation) but leave none to train on before it
    assert backtest_split([WORLD_CLOCK - timedelta(days=30)], WORLD_CLOCK, CHURN) is None
    assert backtest_split([WORLD_CLOCK - timedelta(days=30 * i) for i in range(2)], WORLD_CLOCK, PURCHASE) is None
    assert backtest_split([WORLD_CLOCK - timedelta(days=30 * i) for i in range(3)], WORLD_CLOCK, PURCHASE)


def test_deciles_split_customers_into_ten_equal_groups_best_first():
    scores = np.linspace(0, 1, 100)
    result = deciles(scores)
    assert result[-1] == 1 and result[0] == 10
    assert np.bincount(result)[1:].tolist() == [10] * 10


@pytest.fixture(scope="module")
def two_runs(shop):
    """Two runs on the same data and seed, the second compared with the first's score distribution."""
    orders, features = shop
    customers = pd.Series(sorted(orders["customer_id"].unique()))
    first = run_predictions(features, orders, customers, WORLD_CLOCK, previous_distributions={})
    second = run_predictions(features, orders, customers, WORLD_CLOCK,
                             previous_distributions={c.model: c.score_distribution for c in first.cards})
    return first, second


def test_same_data_and_seed_give_the_same_scores(two_runs):
    first, second = two_runs
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    assert first.predictions["purchase_probability"].notna().all(), "every current customer gets a score"


def test_the_model_ranks_buyers_above_non_buyers_and_its_card_is_complete(two_runs):
    first, _ = two_runs
    purchase = next(card for card in first.cards if card.model == "purchase")
    assert purchase.auc > 0.7
    assert len(purchase.calibration) == 10 and len(purchase.lift_by_decile) == 10
    assert purchase.drift_psi is None, "no earlier run to compare with"


def test_unchanged_scores_show_no_drift_since_the_last_run(two_runs):
    _, second = two_runs
    assert [card.drift_psi for card in second.cards] == [pytest.approx(0, abs=1e-9)] * 2
