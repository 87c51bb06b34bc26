"""One run of the propensity models: backtest, production fit, scores for every current customer, and a
model card per model. Pure: frames in, frames and cards out (the Dagster asset does the reading and writing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import sklearn

from cdp.predictions.evaluation import population_stability_index, score_distribution
from cdp.predictions.propensity import (
    FEATURES,
    TARGETS,
    Backtest,
    NotEnoughHistory,
    Target,
    deciles,
    fit_for_scoring,
    run_backtest,
    score,
)

SEED = 7
# Bump when the features, the estimator or its settings change: part of every model version.
RECIPE = "hgb-isotonic-v1"


@dataclass
class ModelCard:
    model: str
    model_version: str
    scored_at: datetime
    label: str
    training_cutoffs: list[str]
    training_window: str
    training_rows: int
    training_positive_rate: float
    # the backtest behind the figures below: a model fitted on these earlier cut-offs, scored at the evaluation one
    backtest_training_cutoffs: list[str]
    evaluation_cutoff: str
    evaluation_rows: int
    features: list[str]
    auc: float
    baseline_auc: float
    expected_calibration_error: float
    lift_by_decile: list[dict]
    calibration: list[dict]
    score_distribution: dict
    drift_psi: float | None
    scored_customers: int

    def as_row(self) -> dict:
        row = dict(self.__dict__)
        # NaN rather than None on a first run, so the warehouse column is a double from the start
        row["drift_psi"] = float("nan") if self.drift_psi is None else self.drift_psi
        for key in ("training_cutoffs", "backtest_training_cutoffs", "features", "lift_by_decile", "calibration", "score_distribution"):
            row[key] = json.dumps(row[key])
        return row


def model_version(target: Target, training_cutoffs: list, training_rows: int, seed: int) -> str:
    """Same recipe, training data and seed -> same version: a short hash a synced score can be traced to."""
    recipe = json.dumps({
        "target": target.name, "recipe": RECIPE, "features": FEATURES, "seed": seed,
        "sklearn": sklearn.__version__, "cutoffs": [str(c) for c in training_cutoffs], "rows": training_rows,
    }, sort_keys=True)
    return f"{target.name}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def current_frame(features: pd.DataFrame, customers: pd.Series) -> pd.DataFrame:
    """Features at the latest cut-off for every current customer; a customer without any fact yet (a CRM
    contact, an ad lead) gets zero counts and unknown recencies, which the trees handle as missing."""
    latest = features[features["cutoff_index"] == 0]
    frame = pd.DataFrame({"customer_id": customers.astype(str)}).merge(latest, on="customer_id", how="left")
    counts = [c for c in FEATURES if c.startswith(("orders_", "events_", "emails_", "active_", "product_",
                                                      "add_to_", "net_revenue", "online_"))]
    frame[counts] = frame[counts].fillna(0)
    frame["unsubscribed_from_email"] = frame["unsubscribed_from_email"].astype("boolean").fillna(False)
    return frame


@dataclass
class RunResult:
    predictions: pd.DataFrame
    cards: list[ModelCard]
    backtests: dict[str, Backtest]
    # models that could not be trained honestly, with the reason (their probabilities stay null)
    skipped: dict[str, str]


def run_predictions(features: pd.DataFrame, orders: pd.DataFrame, customers: pd.Series, world_clock: datetime,
                    previous_distributions: dict[str, dict], seed: int = SEED) -> RunResult:
    current = current_frame(features, customers)
    predictions = pd.DataFrame({"customer_id": current["customer_id"]})
    cards, backtests, versions, skipped = [], {}, [], {}
    for target in TARGETS:
        try:
            backtest = run_backtest(features, orders, target, world_clock, seed)
            model, cutoffs = fit_for_scoring(features, orders, target, world_clock, seed)
        except NotEnoughHistory as reason:
            skipped[target.name] = str(reason)
            predictions[f"{target.name}_probability"] = np.nan
            predictions[f"{target.name}_decile"] = pd.Series(pd.NA, index=current.index, dtype="Int64")
            continue
        population = target.population(current)
        scores = score(model, population)
        probability = pd.Series(np.nan, index=current.index)
        probability[population.index] = scores
        decile = pd.Series(pd.NA, index=current.index, dtype="Int64")
        decile[population.index] = deciles(scores)
        predictions[f"{target.name}_probability"] = probability
        predictions[f"{target.name}_decile"] = decile
        training_rows = int(target.population(features)["cutoff_at"].isin(cutoffs).sum())
        version = model_version(target, cutoffs, training_rows, seed)
        versions.append(version)
        previous = previous_distributions.get(target.name)
        window = timedelta(days=target.window_days)
        cards.append(ModelCard(
            model=target.name, model_version=version, scored_at=world_clock,
            label=_label_text(target),
            training_cutoffs=[str(pd.Timestamp(c).date()) for c in cutoffs],
            training_window=f"{pd.Timestamp(min(cutoffs)).date()} .. {(pd.Timestamp(max(cutoffs)) + window).date()}",
            training_rows=training_rows, training_positive_rate=backtest.positives_rate,
            backtest_training_cutoffs=[str(pd.Timestamp(c).date()) for c in backtest.split.training],
            evaluation_cutoff=str(pd.Timestamp(backtest.split.evaluation).date()),
            evaluation_rows=backtest.evaluation_rows, features=FEATURES, auc=backtest.auc,
            baseline_auc=backtest.baseline_auc, expected_calibration_error=backtest.ece,
            lift_by_decile=backtest.lift, calibration=backtest.calibration,
            score_distribution=score_distribution(scores),
            drift_psi=population_stability_index(previous, scores) if previous else None,
            scored_customers=len(population),
        ))
        backtests[target.name] = backtest
    predictions["model_version"] = " ".join(versions)
    predictions["scored_at"] = world_clock
    return RunResult(predictions=predictions, cards=cards, backtests=backtests, skipped=skipped)


def _label_text(target: Target) -> str:
    if target.positive_when_buying:
        return f"any purchase in the {target.window_days} days after the cut-off (every known profile)"
    return (f"no purchase in the {target.window_days} days after the cut-off "
            f"(customers with at least {target.min_orders} purchases before it)")
