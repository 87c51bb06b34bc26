"""Calibration, lift and drift measures on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from cdp.predictions.evaluation import (
    calibration_table,
    expected_calibration_error,
    lift_by_decile,
    population_stability_index,
    score_distribution,
)


def test_perfectly_calibrated_scores_have_no_calibration_error():
    scores = np.repeat(np.linspace(0.05, 0.95, 10), 100)
    labels = np.concatenate([np.r_[np.ones(int(p * 100)), np.zeros(100 - int(p * 100))]
                             for p in np.linspace(0.05, 0.95, 10)])
    assert expected_calibration_error(labels, scores) == pytest.approx(0, abs=0.01)


def test_scores_twice_too_high_show_the_gap_in_every_bin():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 0.4, 10_000)
    labels = rng.uniform(size=truth.size) < truth
    table = calibration_table(labels, truth * 2)
    assert [row["rows"] for row in table] == [1000] * 10
    assert expected_calibration_error(labels, truth * 2) == pytest.approx(0.2, abs=0.02)


def test_the_top_decile_of_a_perfect_ranking_holds_all_the_positives():
    scores = np.arange(100, dtype=float)
    labels = (scores >= 90).astype(int)
    lift = lift_by_decile(labels, scores)
    assert lift[0]["decile"] == 1 and lift[0]["positive_rate"] == 1.0 and lift[0]["lift"] == pytest.approx(10)
    assert all(row["positive_rate"] == 0 for row in lift[1:])


def test_a_shifted_score_distribution_drifts_and_the_same_one_does_not():
    rng = np.random.default_rng(1)
    before = rng.beta(2, 20, 5000)
    assert population_stability_index(score_distribution(before), rng.beta(2, 20, 5000)) < 0.02
    assert population_stability_index(score_distribution(before), rng.beta(4, 20, 5000)) > 0.25
