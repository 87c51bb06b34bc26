"""How good a probability is: calibration (10 equal-frequency bins, expected calibration error), lift by
decile, and drift of a score distribution between runs (population stability index). Pure functions."""

from __future__ import annotations

import numpy as np

BINS = 10


def _equal_frequency_bins(scores: np.ndarray, bins: int = BINS) -> list[np.ndarray]:
    """Indices of the scores in `bins` groups of (nearly) equal size, lowest scores first."""
    order = np.argsort(scores, kind="stable")
    return [chunk for chunk in np.array_split(order, bins) if len(chunk)]


def calibration_table(labels: np.ndarray, scores: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per equal-frequency bin of the scores: rows, mean predicted probability, observed rate."""
    labels, scores = np.asarray(labels, float), np.asarray(scores, float)
    return [
        {"bin": number, "rows": int(len(chunk)), "mean_predicted": float(scores[chunk].mean()),
         "observed_rate": float(labels[chunk].mean())}
        for number, chunk in enumerate(_equal_frequency_bins(scores, bins), start=1)
    ]


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = BINS) -> float:
    """Row-weighted mean gap between predicted and observed rate over 10 equal-frequency bins."""
    table = calibration_table(labels, scores, bins)
    total = sum(row["rows"] for row in table)
    if not total:
        return float("nan")
    return float(sum(row["rows"] * abs(row["mean_predicted"] - row["observed_rate"]) for row in table) / total)


def lift_by_decile(labels: np.ndarray, scores: np.ndarray) -> list[dict]:
    """Decile 1 is the highest-scoring tenth: its rate of positives over the overall rate is its lift."""
    labels, scores = np.asarray(labels, float), np.asarray(scores, float)
    overall = labels.mean() if len(labels) else float("nan")
    rows = []
    for decile, chunk in enumerate(reversed(_equal_frequency_bins(scores)), start=1):
        rate = float(labels[chunk].mean())
        rows.append({"decile": decile, "rows": int(len(chunk)), "positive_rate": rate,
                     "lift": float(rate / overall) if overall else float("nan")})
    return rows


def _shares(edges: np.ndarray, scores: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
    return counts / max(counts.sum(), 1)


def score_distribution(scores: np.ndarray, bins: int = BINS) -> dict:
    """What the next run compares itself with: this run's decile edges and the share of scores between them
    (not exactly a tenth each: calibrated scores tie, and ties fall on one side of an edge)."""
    scores = np.asarray(scores, float)
    if not len(scores):
        return {"edges": [], "shares": [], "rows": 0}
    edges = np.quantile(scores, np.linspace(0, 1, bins + 1)[1:-1])
    return {"edges": [float(e) for e in edges], "shares": [float(s) for s in _shares(edges, scores)],
            "rows": int(len(scores))}


def population_stability_index(previous: dict, scores: np.ndarray) -> float:
    """PSI of this run's scores against the previous run's, over the previous run's decile bins:
    sum (actual - expected) ln(actual / expected). Below 0.1 is usually read as stable, above 0.25 as a
    shifted population."""
    edges = np.asarray(previous["edges"], float)
    scores = np.asarray(scores, float)
    if not len(edges) or not len(scores):
        return float("nan")
    # an empty bin would make the logarithm infinite; a small floor is the usual convention
    expected = np.clip(np.asarray(previous["shares"], float), 1e-4, None)
    actual = np.clip(_shares(edges, scores), 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
