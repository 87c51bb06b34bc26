"""Purchase and churn propensity: labels from the window after a cut-off, a time-split backtest, and scores.

Pure functions on pandas frames; the Dagster asset (orchestration/assets/predictions.py) reads the features
(dbt model predictions.prediction_features, one row per customer and cut-off) and the orders, and writes what
these return. The backtest is honest in time: the model is fitted on cut-offs whose label windows end at or
before the evaluation cut-off, and evaluated on the customers and labels of that later cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from cdp.predictions.evaluation import calibration_table, expected_calibration_error, lift_by_decile
from cdp.predictions.history import CALIBRATION_FOLDS, MIN_SAMPLES_LEAF, propensity_shortfall

FEATURES = [
    "orders_count", "orders_last_30_days", "orders_last_90_days", "orders_last_180_days", "orders_last_365_days",
    "online_orders_count", "net_revenue", "net_revenue_last_180_days", "average_order_value",
    "days_since_last_order", "days_since_first_order", "mean_days_between_orders",
    "events_last_30_days", "events_last_90_days", "active_days_last_90_days", "product_views_last_30_days",
    "add_to_cart_last_30_days", "days_since_last_event", "emails_received_last_90_days",
    "emails_opened_last_90_days", "emails_clicked_last_90_days", "days_since_last_email_engagement",
    "unsubscribed_from_email", "tenure_days",
]
# The baseline a marketer would build by hand: recency, frequency, tenure.
BASELINE_FEATURES = ["days_since_last_order", "orders_count", "tenure_days"]
# How many earlier cut-offs (30 days apart) are stacked into one training set: more rows, same time split.
TRAINING_CUTOFFS = 4


class NotEnoughHistory(ValueError):
    """The world is too young or too small to train or evaluate a model honestly (a fresh shop, a tiny test
    world): the run says so instead of scoring with a model it could not check. The message is the reason
    (cdp/predictions/history.py)."""


@dataclass(frozen=True)
class Target:
    """What a propensity model predicts, as the issue defines it."""

    name: str
    window_days: int
    # purchase: every profile known at the cut-off; churn: customers with at least two purchases before it
    min_orders: int
    # churn is the absence of a purchase in the window
    positive_when_buying: bool
    # how the reasons for skipping a model name who is scored and what a positive label means
    population_text: str
    positive_text: str

    def population(self, features: pd.DataFrame) -> pd.DataFrame:
        return features[features["orders_count"] >= self.min_orders]


PURCHASE = Target("purchase", window_days=30, min_orders=0, positive_when_buying=True,
                  population_text="known profiles", positive_text="bought in the 30 days after the cut-off")
CHURN = Target("churn", window_days=180, min_orders=2, positive_when_buying=False,
               population_text="customers with 2 or more orders",
               positive_text="no purchase in the 180 days after the cut-off")
TARGETS = (PURCHASE, CHURN)


def label(features: pd.DataFrame, orders: pd.DataFrame, target: Target) -> pd.Series:
    """1/0 per feature row: did the customer buy in (cut-off, cut-off + window]? (inverted for churn).

    orders: customer_id, ordered_at (placed, not cancelled orders)."""
    window = pd.Timedelta(days=target.window_days)
    joined = features[["customer_id", "cutoff_at"]].reset_index().merge(orders, on="customer_id", how="left")
    in_window = (joined["ordered_at"] > joined["cutoff_at"]) & (joined["ordered_at"] <= joined["cutoff_at"] + window)
    bought = in_window.groupby(joined["index"]).any().reindex(features.index, fill_value=False)
    return (bought if target.positive_when_buying else ~bought).astype(int)


@dataclass(frozen=True)
class Split:
    """The cut-offs of one backtest: fit on `training` (label windows closed by `evaluation`), test on
    `evaluation`, whose own window closes by the world clock."""

    training: list[datetime]
    evaluation: datetime


def backtest_split(cutoffs: list[datetime], world_clock: datetime, target: Target) -> Split | None:
    """The latest evaluation cut-off whose label window has closed, and the training cut-offs before it;
    None when the history holds no such pair (younger than two label windows)."""
    window = timedelta(days=target.window_days)
    closed = sorted(c for c in cutoffs if c + window <= world_clock)
    if not closed:
        return None
    evaluation = closed[-1]
    training = [c for c in closed if c + window <= evaluation][-TRAINING_CUTOFFS:]
    if not training:
        return None
    return Split(training=training, evaluation=evaluation)


def history_days(features: pd.DataFrame, world_clock: datetime) -> float:
    """Days from the earliest fact about any customer (order, analytics event or email event) to the clock."""
    if features.empty:
        return 0.0
    first_facts = features["cutoff_at"] - pd.to_timedelta(features["tenure_days"].astype(float), unit="D")
    first = first_facts.min()
    if pd.isna(first):
        first = features["cutoff_at"].min()
    return max(float((pd.Timestamp(world_clock) - first) / pd.Timedelta(days=1)), 0.0)


@dataclass
class TrainingSets:
    """The rows and labels of one target's backtest and production fit, however few: what
    history.propensity_shortfall judges before anything is fitted."""

    target: Target
    history_days: float
    split: Split | None
    training: pd.DataFrame
    training_labels: pd.Series
    evaluation: pd.DataFrame
    evaluation_labels: pd.Series
    # the production model: the backtest's recipe moved forward to the latest closed windows
    production_cutoffs: list[datetime]
    production: pd.DataFrame
    production_labels: pd.Series


def training_sets(features: pd.DataFrame, orders: pd.DataFrame, target: Target,
                  world_clock: datetime) -> TrainingSets:
    cutoffs = sorted(features["cutoff_at"].unique())
    split = backtest_split(cutoffs, world_clock, target)
    population = target.population(features)
    nobody = population.iloc[:0]
    training = population[population["cutoff_at"].isin(split.training)] if split else nobody
    evaluation = population[population["cutoff_at"] == split.evaluation] if split else nobody
    window = timedelta(days=target.window_days)
    closed = [c for c in cutoffs if c + window <= world_clock][-TRAINING_CUTOFFS:]
    production = population[population["cutoff_at"].isin(closed)]
    return TrainingSets(
        target=target, history_days=history_days(features, world_clock), split=split,
        training=training, training_labels=label(training, orders, target),
        evaluation=evaluation, evaluation_labels=label(evaluation, orders, target),
        production_cutoffs=closed, production=production, production_labels=label(production, orders, target),
    )


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return frame[columns].astype(float).to_numpy()


class EmptyColumnsAsConstant(TransformerMixin, BaseEstimator):
    """Sets a column that is missing in every row it was fitted on to 0, leaving every other value (and every
    other missing value) alone. The trees bin each column on the rows they are fitted on and fail on a column
    with no value at all (no repeat buyer yet, so no mean_days_between_orders; no email tool, so no email
    engagement), in the whole training set or only in one calibration fold. A constant column has no split,
    so the trees ignore it, which is what a column without information deserves."""

    def fit(self, matrix: np.ndarray, labels=None):
        self.empty_ = np.isnan(np.asarray(matrix, float)).all(axis=0)
        return self

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.array(matrix, dtype=float, copy=True)
        matrix[:, self.empty_] = 0.0
        return matrix


def fit_model(frame: pd.DataFrame, labels: pd.Series, seed: int) -> CalibratedClassifierCV:
    """Gradient-boosted trees (missing values handled natively), calibrated by isotonic regression on
    3 unshuffled folds, so the same rows and seed give the same model."""
    trees = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=MIN_SAMPLES_LEAF,
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )
    model = CalibratedClassifierCV(make_pipeline(EmptyColumnsAsConstant(), trees), method="isotonic",
                                   cv=CALIBRATION_FOLDS)
    return model.fit(_matrix(frame, FEATURES), labels.to_numpy())


def uninformative_features(frame: pd.DataFrame) -> list[str]:
    """Features missing in every row or with one value in all of them: the model cannot use them (said on
    the model card, so a reader knows e.g. that email engagement played no part); none without rows."""
    if frame.empty:
        return []
    return [column for column in FEATURES if frame[column].astype(float).nunique(dropna=True) <= 1]


def _baseline_inputs(frame: pd.DataFrame) -> np.ndarray:
    recency_frequency_tenure = frame[BASELINE_FEATURES].astype(float).copy()
    # a customer who never ordered is as far from an order as they are old
    recency_frequency_tenure["days_since_last_order"] = recency_frequency_tenure["days_since_last_order"].fillna(
        recency_frequency_tenure["tenure_days"])
    return recency_frequency_tenure.fillna(0).to_numpy()


def fit_baseline(frame: pd.DataFrame, labels: pd.Series) -> object:
    """Logistic regression on log recency, frequency and tenure."""
    model = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(_baseline_inputs(frame), labels.to_numpy())


def score(model: CalibratedClassifierCV, frame: pd.DataFrame) -> np.ndarray:
    if frame.empty:  # scikit-learn refuses a matrix without rows
        return np.empty(0)
    return model.predict_proba(_matrix(frame, FEATURES))[:, 1]


def score_baseline(model, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(_baseline_inputs(frame))[:, 1]


def deciles(scores: np.ndarray) -> np.ndarray:
    """1 for the highest-scoring tenth, 10 for the lowest; ties broken by position so sizes are equal."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=int)
    ranks[order] = np.arange(len(scores))
    return (ranks * 10 // max(len(scores), 1)) + 1


@dataclass
class Backtest:
    target: Target
    split: Split
    training_rows: int
    positives_rate: float
    evaluation_rows: int
    auc: float
    baseline_auc: float
    ece: float
    calibration: list[dict]
    lift: list[dict]
    evaluation_customers: pd.Series = field(repr=False)
    evaluation_labels: np.ndarray = field(repr=False)
    evaluation_scores: np.ndarray = field(repr=False)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else float("nan")


def run_backtest(features: pd.DataFrame, orders: pd.DataFrame, target: Target, world_clock: datetime,
                 seed: int) -> Backtest:
    """Fit on the training cut-offs, evaluate the model and the baseline on the later evaluation cut-off;
    NotEnoughHistory, with the reason, when the data cannot support a backtest."""
    sets = training_sets(features, orders, target, world_clock)
    reason = propensity_shortfall(sets)
    if reason:
        raise NotEnoughHistory(reason)
    return backtest(sets, seed)


def backtest(sets: TrainingSets, seed: int) -> Backtest:
    """The backtest on training sets that history.propensity_shortfall accepted."""
    training, evaluation, target = sets.training, sets.evaluation, sets.target
    evaluation_labels = sets.evaluation_labels.to_numpy()
    model = fit_model(training, sets.training_labels, seed)
    scores = score(model, evaluation)
    baseline_scores = score_baseline(fit_baseline(training, sets.training_labels), evaluation)
    return Backtest(
        target=target, split=sets.split, training_rows=len(training),
        positives_rate=float(sets.training_labels.mean()),
        evaluation_rows=len(evaluation), auc=_auc(evaluation_labels, scores),
        baseline_auc=_auc(evaluation_labels, baseline_scores),
        ece=expected_calibration_error(evaluation_labels, scores),
        calibration=calibration_table(evaluation_labels, scores), lift=lift_by_decile(evaluation_labels, scores),
        evaluation_customers=evaluation["customer_id"].reset_index(drop=True),
        evaluation_labels=evaluation_labels, evaluation_scores=scores,
    )
