"""A small synthetic shop for the pure tests: customers who buy by a Poisson process until they drop out,
and their features at cut-offs 30 days apart, computed the way the dbt model defines them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from cdp.predictions.propensity import FEATURES

WORLD_CLOCK = datetime(2026, 10, 1, tzinfo=UTC)
START = WORLD_CLOCK - timedelta(days=720)


def synthetic_orders(customers: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(customers):
        rate = rng.gamma(1.0, 1 / 40)  # purchases per day
        alive_until = rng.exponential(400)
        t = rng.uniform(0, 500)
        while True:
            t += rng.exponential(1 / rate)
            if t > min(alive_until, 720):
                break
            rows.append((f"c{number:04d}", START + timedelta(days=float(t))))
    return pd.DataFrame(rows, columns=["customer_id", "ordered_at"]).assign(
        ordered_at=lambda f: pd.to_datetime(f["ordered_at"], utc=True))


def synthetic_features(orders: pd.DataFrame, cutoffs: int = 15) -> pd.DataFrame:
    frames = []
    for index in range(cutoffs):
        cutoff = pd.Timestamp(WORLD_CLOCK - timedelta(days=30 * index))
        seen = orders[orders["ordered_at"] <= cutoff]
        days_before = (cutoff - seen["ordered_at"]).dt.total_seconds() / 86400
        windows = {f"orders_last_{d}_days": (days_before < d).astype(int) for d in (30, 90, 180, 365)}
        grouped = seen.assign(days_before=days_before, **windows).groupby("customer_id")
        frame = grouped.agg(
            orders_count=("days_before", "size"),
            days_since_last_order=("days_before", "min"),
            days_since_first_order=("days_before", "max"),
            **{name: (name, "sum") for name in windows},
        ).reset_index()
        frame["cutoff_index"] = index
        frame["cutoff_at"] = cutoff
        frames.append(frame)
    features = pd.concat(frames, ignore_index=True)
    features["tenure_days"] = features["days_since_first_order"]
    for column in FEATURES:
        if column not in features:
            features[column] = 0.0
    features["unsubscribed_from_email"] = False
    return features.sort_values(["cutoff_at", "customer_id"]).reset_index(drop=True)


def missing_as_in_the_warehouse(features: pd.DataFrame) -> pd.DataFrame:
    """The gaps the dbt model leaves in a shop without repeat buyers, analytics or an email tool: no mean time
    between orders below two orders, no last event, no email engagement (null, not zero)."""
    features = features.copy()
    features.loc[features["orders_count"] < 2, "mean_days_between_orders"] = np.nan
    features["days_since_last_event"] = np.nan
    features["days_since_last_email_engagement"] = np.nan
    return features


def orders_since(orders: pd.DataFrame, days: int) -> pd.DataFrame:
    """The orders of the last `days` days only: a shop that opened (or started loading) then."""
    return orders[orders["ordered_at"] > pd.Timestamp(WORLD_CLOCK - timedelta(days=days))].reset_index(drop=True)
