"""Next best products on a hand-made shop: co-occurrence, the exclusions, the fallbacks, the holdout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from cdp.predictions.recommendations import holdout_hit_rate, recommend

DAY0 = datetime(2026, 1, 1, tzinfo=UTC)


def interactions(rows: list[tuple]) -> pd.DataFrame:
    """rows: (customer, product, interaction, day)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "interaction", "day"])
    frame["occurred_at"] = [DAY0 + timedelta(days=d) for d in frame.pop("day")]
    return frame


CATALOG = pd.DataFrame({
    "product_id": ["tent", "stove", "lamp", "rug", "sofa", "mug"],
    "category": ["outdoor", "outdoor", "outdoor", "rugs", "sofas", "kitchen"],
    "is_available": [True, True, False, True, True, True],
})


def test_products_bought_together_are_recommended_and_bought_or_unavailable_ones_are_not():
    shop = interactions([
        ("a", "tent", "purchase", 1), ("a", "stove", "purchase", 2), ("a", "lamp", "purchase", 2),
        ("b", "tent", "purchase", 1), ("b", "stove", "purchase", 3), ("b", "lamp", "purchase", 3),
        ("c", "tent", "purchase", 5),
        ("d", "rug", "purchase", 1), ("e", "rug", "purchase", 1), ("e", "sofa", "purchase", 1),
    ])
    lists = recommend(shop, CATALOG, ["c"], top_n=3)
    products = lists["product_id"].tolist()
    assert products[0] == "stove" and lists["reason"].iloc[0] == "co_occurrence"
    assert "tent" not in products, "already bought"
    assert "lamp" not in products, "out of stock"
    assert len(products) == 3 and len(set(products)) == 3


def test_a_customer_without_history_gets_popular_products_and_one_with_interests_gets_theirs_first():
    shop = interactions([
        ("a", "rug", "purchase", 1), ("b", "rug", "purchase", 1), ("c", "rug", "purchase", 1),
        ("a", "mug", "purchase", 1), ("b", "mug", "purchase", 1),
        ("d", "stove", "purchase", 1),
        ("browser", "tent", "view", 2),
    ])
    newcomer = recommend(shop, CATALOG, ["nobody"], top_n=2)
    assert newcomer["product_id"].tolist() == ["rug", "mug"]
    assert set(newcomer["reason"]) == {"popular"}
    # the browser viewed a tent (outdoor): the tent itself, then stove from their interest category
    browser = recommend(shop, CATALOG, ["browser"], top_n=3)
    assert browser["product_id"].tolist()[:2] == ["tent", "stove"]
    assert "popular_in_interests" in set(browser["reason"])


def test_same_interactions_give_the_same_lists():
    rng = np.random.default_rng(3)
    rows = [(f"c{rng.integers(40)}", CATALOG["product_id"].iloc[rng.integers(6)],
             ["purchase", "view", "add_to_cart"][rng.integers(3)], int(rng.integers(60))) for _ in range(400)]
    shop = interactions(rows)
    customers = sorted(shop["customer_id"].unique())
    pd.testing.assert_frame_equal(recommend(shop, CATALOG, customers), recommend(shop, CATALOG, customers))


def test_holdout_counts_a_hit_only_for_a_new_product_bought_after_the_cutoff():
    shop = interactions([
        ("a", "tent", "purchase", 1), ("a", "stove", "purchase", 2),
        ("b", "tent", "purchase", 1), ("b", "stove", "purchase", 40),   # bought stove after the cut-off
        ("c", "rug", "purchase", 1), ("c", "rug", "purchase", 40),      # a repeat: not a new product
        ("d", "sofa", "purchase", 1), ("d", "mug", "purchase", 40),
    ])
    result = holdout_hit_rate(shop, CATALOG, DAY0 + timedelta(days=30), top_n=1)
    assert result.customers == 2  # b and d bought something new; c only repeated
    assert result.hit_rate == pytest.approx(0.5)  # b's stove co-occurs with tent; d's mug is unrelated to sofa


def test_a_holdout_without_new_purchases_is_refused():
    shop = interactions([("a", "tent", "purchase", 1)])
    with pytest.raises(ValueError, match="nothing to evaluate"):
        holdout_hit_rate(shop, CATALOG, DAY0 + timedelta(days=30))
