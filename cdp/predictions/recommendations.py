"""Next best products: item-item co-occurrence over customers' interactions, excluding what a customer bought
and what cannot be offered, filled up with the most popular products of the customer's interest categories.

Pure functions on pandas frames:
- interactions: customer_id, product_id, interaction ('purchase' | 'add_to_cart' | 'view'), occurred_at
- catalog: product_id, category, is_available
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import sparse

from cdp.predictions.history import holdout_shortfall, recommendation_fallback

# How much one interaction says about wanting a product: a purchase more than an add to cart, more than a view.
WEIGHTS = {"purchase": 5.0, "add_to_cart": 3.0, "view": 1.0}
TOP_N = 10
# the lists' columns and types, also when there is nothing to recommend (so the table keeps its shape)
LIST_COLUMNS = {"customer_id": "str", "rank": "int64", "product_id": "str", "score": "float64", "reason": "str"}


@dataclass(frozen=True)
class Index:
    customers: pd.Index
    products: pd.Index


def interaction_matrix(interactions: pd.DataFrame, index: Index) -> sparse.csr_matrix:
    """Customers x products, the summed weights of their interactions."""
    rows = index.customers.get_indexer(interactions["customer_id"])
    cols = index.products.get_indexer(interactions["product_id"])
    keep = (rows >= 0) & (cols >= 0)
    weights = interactions["interaction"].map(WEIGHTS).fillna(0).to_numpy(float)
    return sparse.csr_matrix((weights[keep], (rows[keep], cols[keep])),
                             shape=(len(index.customers), len(index.products)))


def item_similarity(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Cosine similarity of products over the customers who touched them (binary), no self-similarity."""
    touched = (matrix > 0).astype(float)
    co_occurrence = (touched.T @ touched).tocsr()
    counts = np.sqrt(np.asarray(touched.sum(axis=0)).ravel())
    counts[counts == 0] = 1.0
    scale = sparse.diags(1.0 / counts)
    similarity = (scale @ co_occurrence @ scale).tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    return similarity


def interest_categories(interactions: pd.DataFrame, catalog: pd.DataFrame, top: int = 3) -> dict[str, list[str]]:
    """Each customer's top categories by weighted interactions (ties: alphabetical, so stable)."""
    weighted = interactions.merge(catalog[["product_id", "category"]], on="product_id").dropna(subset=["category"])
    weighted = weighted.assign(weight=weighted["interaction"].map(WEIGHTS).fillna(0))
    scores = weighted.groupby(["customer_id", "category"], as_index=False)["weight"].sum()
    scores = scores.sort_values(["customer_id", "weight", "category"], ascending=[True, False, True])
    return {customer: group["category"].head(top).tolist() for customer, group in scores.groupby("customer_id")}


def popularity(interactions: pd.DataFrame) -> pd.Series:
    """Products by the number of distinct customers who bought them, most popular first (ties by id)."""
    bought = interactions[interactions["interaction"] == "purchase"]
    counts = bought.groupby("product_id")["customer_id"].nunique()
    return counts.sort_index().sort_values(ascending=False, kind="stable")


def recommend(
    interactions: pd.DataFrame, catalog: pd.DataFrame, customers: list[str], top_n: int = TOP_N,
    respect_stock: bool = True,
) -> pd.DataFrame:
    """Top `top_n` products per customer: rank, product_id, score, reason ('co_occurrence' or
    'popular_in_interests' or 'popular')."""
    products = pd.Index(sorted(catalog["product_id"].unique()))
    index = Index(customers=pd.Index(sorted(set(customers) | set(interactions["customer_id"]))), products=products)
    matrix = interaction_matrix(interactions, index)
    # a product the customer browsed counts for itself too: browsing without buying is the strongest hint
    scores = (matrix @ (item_similarity(matrix) + sparse.identity(len(products), format="csr"))).tocsr()
    bought = interaction_matrix(interactions[interactions["interaction"] == "purchase"], index).tocsr()
    offerable = np.ones(len(products), bool)
    if respect_stock:
        offerable = products.isin(catalog.loc[available(catalog), "product_id"])
    category_of = catalog.set_index("product_id")["category"]
    ranked_popular = [p for p in popularity(interactions).index if p in set(products[offerable])]
    interests = interest_categories(interactions, catalog)
    rows = []
    for customer in customers:
        position = index.customers.get_loc(customer)
        excluded = set(products[bought[position].indices])
        candidates = _top_scored(scores[position], products, offerable, excluded, top_n)
        picked = [(product, value, "co_occurrence") for product, value in candidates]
        taken = excluded | {product for product, _, _ in picked}
        wanted = interests.get(customer, [])
        for reason, pool in (("popular_in_interests", [p for p in ranked_popular if category_of.get(p) in wanted]),
                             ("popular", ranked_popular)):
            for product in pool:
                if len(picked) >= top_n:
                    break
                if product not in taken:
                    picked.append((product, 0.0, reason))
                    taken.add(product)
        rows += [(customer, rank, product, value, reason) for rank, (product, value, reason) in enumerate(picked, 1)]
    return pd.DataFrame(rows, columns=list(LIST_COLUMNS)).astype(LIST_COLUMNS)


def available(catalog: pd.DataFrame) -> pd.Series:
    """Products that can be offered now; one whose availability is unknown (null) is not offered."""
    return catalog["is_available"].astype("boolean").fillna(False).astype(bool)


def _top_scored(row: sparse.csr_matrix, products: pd.Index, offerable: np.ndarray, excluded: set, top_n: int):
    order = np.lexsort((row.indices, -row.data))  # highest score first, ties by product position
    picked = []
    for i in order:
        product_position = row.indices[i]
        product = products[product_position]
        if row.data[i] > 0 and offerable[product_position] and product not in excluded:
            picked.append((product, float(row.data[i])))
            if len(picked) == top_n:
                break
    return picked


def _bought(interactions: pd.DataFrame) -> pd.Series:
    return interactions[interactions["interaction"] == "purchase"].groupby("customer_id")["product_id"].agg(set)


def purchases_new_to_customers(interactions: pd.DataFrame, cutoff: datetime) -> dict[str, set]:
    """Per customer who bought after `cutoff` a product they had not bought by then: those products."""
    bought_before = _bought(interactions[interactions["occurred_at"] <= cutoff])
    after = _bought(interactions[interactions["occurred_at"] > cutoff])
    new = {customer: products - bought_before.get(customer, set()) for customer, products in after.items()}
    return {customer: products for customer, products in new.items() if products}


@dataclass(frozen=True)
class HoldoutResult:
    cutoff: datetime
    customers: int
    hit_rate: float
    popularity_hit_rate: float


def holdout_hit_rate(interactions: pd.DataFrame, catalog: pd.DataFrame, cutoff: datetime,
                     top_n: int = TOP_N) -> HoldoutResult:
    """Hit rate at `top_n` on a time split: train on interactions at or before `cutoff`; a hit is a customer
    buying, after it, a product they had not bought before and that was in their list. The baseline offers
    everyone the most popular products they had not bought. Stock is not applied to either: only today's is
    known, and it would exclude products sold out since the cut-off."""
    before = interactions[interactions["occurred_at"] <= cutoff]
    bought_before = _bought(before)
    new_purchases = purchases_new_to_customers(interactions, cutoff)
    if not new_purchases:
        raise ValueError(f"nobody bought a new product after {cutoff}: nothing to evaluate")
    customers = sorted(new_purchases)
    lists = recommend(before, catalog, customers, top_n, respect_stock=False).groupby("customer_id")["product_id"]
    recommended = {customer: set(products) for customer, products in lists}
    popular = list(popularity(before).index)
    hits = sum(bool(recommended.get(c, set()) & new_purchases[c]) for c in customers)
    popular_hits = sum(
        bool(set([p for p in popular if p not in bought_before.get(c, set())][:top_n]) & new_purchases[c])
        for c in customers
    )
    return HoldoutResult(cutoff=cutoff, customers=len(customers), hit_rate=hits / len(customers),
                         popularity_hit_rate=popular_hits / len(customers))


@dataclass
class RecommendationRun:
    lists: pd.DataFrame
    # what the lists fall back to on this data (popularity only, nothing at all), or None
    fallback: str | None
    holdout: HoldoutResult | None
    # why the holdout was not measured, or None
    holdout_skipped: str | None


def run_recommendations(interactions: pd.DataFrame, catalog: pd.DataFrame, customers: list[str],
                        world_clock: datetime, holdout_days: int, top_n: int = TOP_N) -> RecommendationRun:
    """The lists for every customer, with the fallback they amount to on little data, and the holdout hit
    rate when enough customers bought something new in the last `holdout_days`."""
    lists = recommend(interactions, catalog, customers, top_n)
    fallback = recommendation_fallback(interactions, catalog, offerable=int(available(catalog).sum()))
    cutoff = pd.Timestamp(world_clock) - pd.Timedelta(days=holdout_days)
    skipped = holdout_shortfall(int((interactions["occurred_at"] <= cutoff).sum()),
                                len(purchases_new_to_customers(interactions, cutoff)), cutoff)
    holdout = None if skipped else holdout_hit_rate(interactions, catalog, cutoff, top_n)
    return RecommendationRun(lists=lists, fallback=fallback, holdout=holdout, holdout_skipped=skipped)
