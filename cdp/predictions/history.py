"""Is there enough history to train, check or evaluate a prediction? One function per stage, each returning
None (enough) or the reason in words: what is missing, how much there is and how much is needed.

A young or small business (weeks of history, a handful of customers, no repeat buyers, no orders at all) is a
valid account, not an error: its prediction stages skip or fall back with these reasons, which the Dagster
metadata and the model cards carry, and still write their tables with the usual columns. Deciding it here,
before fitting, keeps the estimators from failing deep inside (or, worse, from returning one constant score
for everybody as if it were a prediction).

Pure: counts and frames in, text out; nothing here imports the models, so every model can import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cdp.predictions.propensity import Target, TrainingSets

# Propensity. The trees' leaves hold at least MIN_SAMPLES_LEAF rows and isotonic calibration fits them on
# CALIBRATION_FOLDS folds, each training on (folds - 1) / folds of the rows: with fewer rows than this a tree
# cannot make a single split and every customer would get the same score.
MIN_SAMPLES_LEAF = 40
CALIBRATION_FOLDS = 3
MIN_TRAINING_ROWS = -(-2 * MIN_SAMPLES_LEAF * CALIBRATION_FOLDS // (CALIBRATION_FOLDS - 1))  # ceil: 120
# each calibration fold needs positives and negatives of its own
MIN_TRAINING_CLASS_ROWS = 10
# an AUC, a lift by decile or a 10-bin calibration table from fewer rows says nothing about the model
MIN_EVALUATION_ROWS = 50
MIN_EVALUATION_CLASS_ROWS = 5

# Lifetime value. BG/NBD has 4 parameters and Gamma-Gamma 3; without enough repeat buyers the likelihood runs
# off to the edge of the parameter space and "converges" on values that mean nothing.
MIN_CLV_BUYERS = 30
MIN_CLV_REPEAT_BUYERS = 10
# BG/NBD tells a customer who left from one between purchases by the silence since their last purchase:
# in a history shorter than a quarter no silence is long enough to tell, and the dropout estimate is noise.
MIN_CLV_HISTORY_WEEKS = 13

# The recommender's holdout: a hit rate over fewer buyers is one or two customers' luck.
MIN_HOLDOUT_CUSTOMERS = 10


def _date(moment) -> str:
    return str(pd.Timestamp(moment).date())


def _classes(labels: pd.Series | np.ndarray) -> tuple[int, int]:
    labels = np.asarray(labels)
    return int((labels == 1).sum()), int((labels == 0).sum())


def _rows_shortfall(target: Target, what: str, frame: pd.DataFrame, labels, cutoffs: list) -> str | None:
    rows = len(frame)
    at = (f"at {len(cutoffs)} cut-off(s) {_date(min(cutoffs))} .. {_date(max(cutoffs))}" if cutoffs
          else "at no cut-off")
    if rows < MIN_TRAINING_ROWS:
        return (f"skipped: {rows} {what} rows ({target.population_text} {at}), at least {MIN_TRAINING_ROWS} "
                f"needed: a tree leaf holds at least {MIN_SAMPLES_LEAF} rows and each of the {CALIBRATION_FOLDS} "
                f"calibration folds trains on {CALIBRATION_FOLDS - 1}/{CALIBRATION_FOLDS} of them")
    positives, negatives = _classes(labels)
    if min(positives, negatives) < MIN_TRAINING_CLASS_ROWS:
        return (f"skipped: the {rows} {what} rows hold {positives} positives ({target.positive_text}) and "
                f"{negatives} negatives, at least {MIN_TRAINING_CLASS_ROWS} of each needed to fit and calibrate "
                f"the model")
    return None


def propensity_shortfall(sets: TrainingSets) -> str | None:
    """Why a propensity model cannot be trained and checked honestly on these rows, or None.

    In order: a backtest needs two closed label windows (one to train on, a later one to evaluate on), then
    enough training rows of both classes, an evaluation cut-off with enough customers of both classes, and
    the same for the production fit on the latest closed windows."""
    target = sets.target
    window = target.window_days
    if sets.split is None:
        history = (f"{sets.history_days:.0f} days of history" if sets.history_days > 0
                   else "no history yet (no order, analytics event or email event)")
        return (f"skipped: {history}, the {target.name} model needs at least {2 * window} days: a closed "
                f"{window}-day label window to train on and a later one to evaluate on")
    reason = _rows_shortfall(target, "training", sets.training, sets.training_labels, sets.split.training)
    if reason:
        return reason
    evaluated = len(sets.evaluation)
    on = _date(sets.split.evaluation)
    if evaluated < MIN_EVALUATION_ROWS:
        return (f"skipped: {evaluated} {target.population_text} at the evaluation cut-off {on}, at least "
                f"{MIN_EVALUATION_ROWS} needed for a backtest")
    positives, negatives = _classes(sets.evaluation_labels)
    if min(positives, negatives) < MIN_EVALUATION_CLASS_ROWS:
        return (f"skipped: of the {evaluated} {target.population_text} at the evaluation cut-off {on}, "
                f"{positives} are positives ({target.positive_text}) and {negatives} negatives, at least "
                f"{MIN_EVALUATION_CLASS_ROWS} of each needed to measure AUC and calibration")
    return _rows_shortfall(target, "production training", sets.production, sets.production_labels,
                           sets.production_cutoffs)


def ranking_shortfall(target: Target, scores: np.ndarray, whom: str) -> str | None:
    """A model that gives everybody one score ranks nobody: publishing it would be a constant dressed up as
    a prediction (it happens when no feature separates the training rows)."""
    scores = np.asarray(scores, float)
    if len(scores) > 1 and np.unique(scores).size == 1:
        return (f"skipped: the fitted {target.name} model gives all {len(scores)} {whom} the same score "
                f"({scores[0]:.4f}); no feature separated the training rows")
    return None


def bgnbd_shortfall(summary: pd.DataFrame) -> str | None:
    """Why BG/NBD (how often and how long customers buy) cannot be fitted on this RFM summary (time in
    weeks), or None."""
    buyers = len(summary)
    repeaters = int((summary["frequency"] > 0).sum())
    if buyers < MIN_CLV_BUYERS:
        return (f"null values: {buyers} customers with a purchase, at least {MIN_CLV_BUYERS} needed to fit "
                f"BG/NBD")
    weeks = float(summary["T"].max())
    if weeks < MIN_CLV_HISTORY_WEEKS:
        return (f"null values: {weeks:.1f} weeks from the first purchase to the clock, at least "
                f"{MIN_CLV_HISTORY_WEEKS} needed for BG/NBD to tell customers who left from customers between "
                f"purchases")
    if repeaters < MIN_CLV_REPEAT_BUYERS:
        return (f"null values: {repeaters} of {buyers} customers bought again on a later day, at least "
                f"{MIN_CLV_REPEAT_BUYERS} repeat buyers needed to fit BG/NBD's purchase and dropout rates")
    return None


def gamma_gamma_shortfall(summary: pd.DataFrame) -> str | None:
    """Why Gamma-Gamma (spend per repeat purchase) cannot be fitted, or None."""
    spenders = int(((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).sum())
    if spenders < MIN_CLV_REPEAT_BUYERS:
        return (f"null spend and value: {spenders} repeat buyers with a positive repeat spend, at least "
                f"{MIN_CLV_REPEAT_BUYERS} needed to fit Gamma-Gamma")
    return None


def recommendation_fallback(interactions: pd.DataFrame, catalog: pd.DataFrame, offerable: int) -> str | None:
    """What the next-best-product lists fall back to on this data, or None when co-occurrence has material.

    offerable: products in the catalogue that can be offered now."""
    if not offerable:
        return (f"no recommendations: none of the {len(catalog)} catalogue products can be offered "
                f"(active with stock)")
    known = interactions[interactions["product_id"].isin(catalog["product_id"])]
    if known.empty:
        return ("no recommendations: no product views, adds to cart or purchases of catalogue products yet, "
                "so there is neither co-occurrence nor popularity to rank by")
    products_per_customer = known.groupby("customer_id")["product_id"].nunique()
    if not (products_per_customer >= 2).any():
        return (f"popularity only: none of the {len(products_per_customer)} customers with interactions has "
                f"touched 2 or more products, so no products co-occur; lists are the most purchased products, "
                f"those of the customer's interest categories first")
    if not (known["interaction"] == "purchase").any():
        return ("co-occurrence only: no purchases yet, so there is no popularity to fill the lists up with; "
                "customers without views or adds to cart get no list")
    return None


def holdout_shortfall(interactions_before: int, new_buyers: int, cutoff) -> str | None:
    """interactions_before: interactions at or before the cut-off (what the holdout's lists learn from);
    new_buyers: customers who bought, after it, a product they had not bought by then."""
    if not interactions_before:
        return f"skipped: no product interaction at or before {_date(cutoff)} to train the holdout's lists on"
    if new_buyers < MIN_HOLDOUT_CUSTOMERS:
        return (f"skipped: {new_buyers} customers bought a product new to them after {_date(cutoff)}, at least "
                f"{MIN_HOLDOUT_CUSTOMERS} needed to measure a hit rate")
    return None
