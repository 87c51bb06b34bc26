"""Lifetime value through the project's own code path, on the published CDNOW data.

Data: the CDNOW 1/10th sample (2,357 customers who first bought in Q1 1997; raw transactions, one line per
purchase: customer, date, CDs, dollars), as distributed by Bruce Hardie and shipped in `lifetimes`.
Papers: Fader, Hardie & Lee (2005) "Counting your customers the easy way: an alternative to the Pareto/NBD
model", Marketing Science 24(2) (BG/NBD: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426); Fader & Hardie
(2013) "The Gamma-Gamma model of monetary value" (p = 6.25, q = 3.74, gamma = 15.44).
Calibration 1997-01-01..1997-09-30 (39 weeks), time unit weeks.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdp.predictions.clv import (
    BgNbdParams,
    customer_lifetime_value,
    expected_purchases,
    fit_bgnbd,
    rfm_summary,
)

CDNOW = Path(__file__).parent / "data" / "cdnow_sample.txt"
CALIBRATION_END = datetime(1997, 9, 30)


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["customer", "master_id", "date", "cds", "dollars"],
                      dtype={"customer": str, "date": str})
    return pd.DataFrame({
        "customer": raw["customer"],
        "bought_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "dollars": raw["dollars"],
    })


def test_cdnow_fit_from_raw_transactions_matches_the_published_parameters(cdnow_transactions):
    values, bgnbd, gamma_gamma = customer_lifetime_value(
        cdnow_transactions, CALIBRATION_END, horizon_periods=39,
        customer_col="customer", time_col="bought_at", amount_col="dollars", period_days=7,
    )
    assert len(values) == 2357
    assert (round(bgnbd.r, 3), round(bgnbd.alpha, 3), round(bgnbd.a, 3), round(bgnbd.b, 3)) == (
        0.243, 4.414, 0.793, 2.426)
    assert (round(gamma_gamma.p, 2), round(gamma_gamma.q, 2), round(gamma_gamma.gamma, 2)) == (6.25, 3.74, 15.44)
    assert values["expected_value"].notna().all() and (values["expected_value"] > 0).all()


def test_summary_counts_repeat_purchase_days_and_measures_time_in_weeks(cdnow_transactions):
    summary = rfm_summary(cdnow_transactions, CALIBRATION_END, customer_col="customer", time_col="bought_at",
                          amount_col="dollars")
    # customer 00004 (the paper's example): purchases on Jan 1, Jan 18, Aug 2 (and Dec 12, after calibration)
    first = summary.loc["00004"]
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(30.43, abs=0.01)
    assert first["T"] == pytest.approx(38.86, abs=0.01)
    assert first["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_same_day_purchases_are_one_transaction_and_later_ones_are_ignored():
    transactions = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a"],
        "ordered_at": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-15 00:00", "2024-03-01 00:00"]),
        "amount": [10.0, 5.0, 20.0, 99.0],
    })
    summary = rfm_summary(transactions, datetime(2024, 1, 29))
    assert summary.loc["a"].to_dict() == {"frequency": 1, "recency": 2.0, "T": 4.0, "monetary_value": 20.0}


def test_conditional_expectation_reproduces_the_papers_worked_example():
    # The paper's customer with x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks.
    params = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    history = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert expected_purchases(params, history, 39)[0] == pytest.approx(1.226, abs=0.001)


def test_a_transactions_table_without_the_named_columns_is_refused():
    with pytest.raises(ValueError, match="lack the column"):
        rfm_summary(pd.DataFrame({"id": [1]}), CALIBRATION_END)


def test_fitting_nothing_is_refused():
    empty = pd.DataFrame({"frequency": [], "recency": [], "T": []}, dtype=np.float64)
    with pytest.raises(ValueError, match="no customers"):
        fit_bgnbd(empty)
