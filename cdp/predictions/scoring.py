"""One run of the propensity models: backtest, production fit, scores for every current customer, and a
model card per model. Pure: frames in, frames and cards out (the Dagster asset does the reading and writing).

A model the data cannot support (cdp/predictions/history.py decides) is skipped, not failed: its
probabilities and deciles stay null in the same columns, and its card says "skipped" with the reason.
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
from cdp.predictions.history import propensity_shortfall, ranking_shortfall
from cdp.predictions.propensity import (
    FEATURES,
    TARGETS,
    Backtest,
    Target,
    TrainingSets,
    backtest,
    deciles,
    fit_model,
    score,
    training_sets,
    uninformative_features,
)

SEED = 7
# Bump when the features, the estimator or its settings change: part of every model version.
RECIPE = "hgb-isotonic-v1"


TRAINED, SKIPPED = "trained", "skipped"


@dataclass
class ModelCard:
    model: str
    # "trained", or "skipped" with the reason (then the figures below describe the data there was, the
    # metrics are NaN and nobody is scored)
    status: str
    reason: str | None
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
    # missing or constant in every production training row: the model could not use them
    uninformative_features: list[str]
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
        for key in ("training_cutoffs", "backtest_training_cutoffs", "features", "uninformative_features",
                    "lift_by_decile", "calibration", "score_distribution"):
            row[key] = json.dumps(row[key])
        return row


def cards_frame(cards: list[ModelCard]) -> pd.DataFrame:
    """The cards as warehouse rows, text columns typed as text: a column that is null in every card of a
    run (the reason, when every model trained) would otherwise reach DuckDB as an integer column, and the
    first skipped card of a later run could not be appended."""
    frame = pd.DataFrame([card.as_row() for card in cards], columns=list(ModelCard.__dataclass_fields__))
    text = [name for name, spec in ModelCard.__dataclass_fields__.items() if spec.type in ("str", "str | None")]
    return frame.astype(dict.fromkeys(text, "string"))


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
    # one card per model, trained or skipped
    cards: list[ModelCard]
    backtests: dict[str, Backtest]
    # models that could not be trained honestly, with the reason (their probabilities stay null)
    skipped: dict[str, str]


def _dates(cutoffs) -> list[str]:
    return [str(pd.Timestamp(c).date()) for c in cutoffs]


def _training_window(target: Target, cutoffs: list) -> str:
    if not cutoffs:
        return ""
    window = timedelta(days=target.window_days)
    return f"{pd.Timestamp(min(cutoffs)).date()} .. {(pd.Timestamp(max(cutoffs)) + window).date()}"


def _rate(labels: pd.Series) -> float:
    return float(labels.mean()) if len(labels) else float("nan")


def _skipped_card(sets: TrainingSets, reason: str, world_clock: datetime) -> ModelCard:
    """The card of a model that was not trained: the reason, and the data there was to train it on."""
    target, nan = sets.target, float("nan")
    return ModelCard(
        model=target.name, status=SKIPPED, reason=reason, model_version="", scored_at=world_clock,
        label=_label_text(target), training_cutoffs=_dates(sets.production_cutoffs),
        training_window=_training_window(target, sets.production_cutoffs),
        training_rows=len(sets.production), training_positive_rate=_rate(sets.production_labels),
        backtest_training_cutoffs=_dates(sets.split.training) if sets.split else [],
        evaluation_cutoff=str(pd.Timestamp(sets.split.evaluation).date()) if sets.split else "",
        evaluation_rows=len(sets.evaluation), features=FEATURES,
        uninformative_features=uninformative_features(sets.production), auc=nan, baseline_auc=nan,
        expected_calibration_error=nan, lift_by_decile=[], calibration=[],
        score_distribution=score_distribution(np.empty(0)), drift_psi=None, scored_customers=0,
    )


def run_predictions(features: pd.DataFrame, orders: pd.DataFrame, customers: pd.Series, world_clock: datetime,
                    previous_distributions: dict[str, dict], seed: int = SEED) -> RunResult:
    current = current_frame(features, customers)
    predictions = pd.DataFrame({"customer_id": current["customer_id"]})
    cards, backtests, versions, skipped = [], {}, [], {}
    for target in TARGETS:
        predictions[f"{target.name}_probability"] = pd.Series(np.nan, index=current.index, dtype=float)
        predictions[f"{target.name}_decile"] = pd.Series(pd.NA, index=current.index, dtype="Int64")
        sets = training_sets(features, orders, target, world_clock)
        reason = propensity_shortfall(sets)
        if reason is None:
            checked = backtest(sets, seed)
            reason = ranking_shortfall(target, checked.evaluation_scores, "customers of the backtest")
        if reason is None:
            model = fit_model(sets.production, sets.production_labels, seed)
            population = target.population(current)
            scores = score(model, population)
            reason = ranking_shortfall(target, scores, "current customers")
        if reason:
            skipped[target.name] = reason
            cards.append(_skipped_card(sets, reason, world_clock))
            continue
        predictions.loc[population.index, f"{target.name}_probability"] = scores
        predictions.loc[population.index, f"{target.name}_decile"] = deciles(scores)
        cutoffs = sets.production_cutoffs
        version = model_version(target, cutoffs, len(sets.production), seed)
        versions.append(version)
        previous = previous_distributions.get(target.name)
        cards.append(ModelCard(
            model=target.name, status=TRAINED, reason=None, model_version=version, scored_at=world_clock,
            label=_label_text(target), training_cutoffs=_dates(cutoffs),
            training_window=_training_window(target, cutoffs),
            training_rows=len(sets.production), training_positive_rate=_rate(sets.production_labels),
            backtest_training_cutoffs=_dates(checked.split.training),
            evaluation_cutoff=str(pd.Timestamp(checked.split.evaluation).date()),
            evaluation_rows=checked.evaluation_rows, features=FEATURES,
            uninformative_features=uninformative_features(sets.production), auc=checked.auc,
            baseline_auc=checked.baseline_auc, expected_calibration_error=checked.ece,
            lift_by_decile=checked.lift, calibration=checked.calibration,
            score_distribution=score_distribution(scores),
            drift_psi=population_stability_index(previous, scores) if previous else None,
            scored_customers=len(population),
        ))
        backtests[target.name] = checked
    predictions["model_version"] = " ".join(versions)
    predictions["scored_at"] = world_clock
    return RunResult(predictions=predictions, cards=cards, backtests=backtests, skipped=skipped)


def _label_text(target: Target) -> str:
    if target.positive_when_buying:
        return f"any purchase in the {target.window_days} days after the cut-off (every known profile)"
    return (f"no purchase in the {target.window_days} days after the cut-off "
            f"(customers with at least {target.min_orders} purchases before it)")
