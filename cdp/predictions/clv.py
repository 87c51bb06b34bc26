"""Customer lifetime value for non-contractual purchasing: BG/NBD for how often a customer buys and whether
they are still "alive" (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), Gamma-Gamma for
how much they spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note).

Implemented here on scipy because no maintained library installs cleanly: `lifetimes` (last release 2020)
needs `autograd` and `pkg_resources`, `btyd` is a 2022 beta, `pymc-marketing` pulls a whole PyMC stack for
what is four closed-form likelihoods. The formulas are the papers' equations, numbered as cited.

Time unit: the caller picks it (`period_days`, 7 for the paper's weeks). Purchases on the same day count as
one transaction, as in the papers' CDNOW summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from cdp.predictions.history import bgnbd_shortfall, gamma_gamma_shortfall


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: datetime | pd.Timestamp,
    *,
    customer_col: str = "customer_id",
    time_col: str = "ordered_at",
    amount_col: str = "amount",
    period_days: float = 7.0,
) -> pd.DataFrame:
    """One row per customer who bought at or before `calibration_end`: frequency (repeat purchase days),
    recency (first to last purchase), T (first purchase to the end of calibration), both in periods, and
    monetary_value (mean spend of the repeat purchase days; 0 without repeats, as the first purchase is
    left out of Gamma-Gamma: it is the acquisition, not a draw from the repeat spend process).
    """
    missing = {customer_col, time_col, amount_col} - set(transactions.columns)
    if missing:
        raise ValueError(f"transactions lack the column(s) {sorted(missing)}")
    end = pd.Timestamp(calibration_end)
    times = pd.to_datetime(transactions[time_col])
    if times.dt.tz is not None and end.tzinfo is None:
        end = end.tz_localize(times.dt.tz)
    days = pd.DataFrame({
        "customer": transactions[customer_col].to_numpy(),
        "day": times.dt.floor("D"),
        "amount": pd.to_numeric(transactions[amount_col]).astype(float).to_numpy(),
    })
    days = days[days["day"] <= end].groupby(["customer", "day"], as_index=False)["amount"].sum()
    days = days.sort_values(["customer", "day"])
    first_day = days.groupby("customer")["day"].transform("min")
    days["is_repeat"] = days["day"] > first_day
    per_customer = days.groupby("customer").agg(
        first=("day", "min"), last=("day", "max"), purchase_days=("day", "size"),
    )
    repeat_spend = days[days["is_repeat"]].groupby("customer")["amount"].mean()
    period = pd.Timedelta(days=period_days)
    summary = pd.DataFrame({
        "frequency": per_customer["purchase_days"] - 1,
        "recency": (per_customer["last"] - per_customer["first"]) / period,
        "T": (end.floor("D") - per_customer["first"]) / period,
        "monetary_value": repeat_spend.reindex(per_customer.index).fillna(0.0),
    })
    summary.index.name = customer_col
    return summary


def bgnbd_log_likelihood(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood, equation (6) of Fader, Hardie & Lee (2005), in log space so large
    frequencies do not overflow."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x)
    return a1 + a2 + np.where(x > 0, np.logaddexp(a3, a4), a3)


def _fit(negative_ll, start: np.ndarray) -> np.ndarray:
    # Optimise over log-parameters: every parameter is positive, and the surface is better conditioned.
    result = minimize(negative_ll, np.log(start), method="Nelder-Mead",
                      options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 20_000, "maxfev": 20_000})
    if not result.success:
        raise RuntimeError(f"the likelihood did not converge: {result.message}")
    return np.exp(result.x)


def fit_bgnbd(summary: pd.DataFrame) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters from an `rfm_summary`."""
    if summary.empty:
        raise ValueError("no customers to fit BG/NBD on")
    x = summary["frequency"].to_numpy(float)
    t_x = summary["recency"].to_numpy(float)
    big_t = summary["T"].to_numpy(float)
    r, alpha, a, b = _fit(
        lambda log_p: -bgnbd_log_likelihood(BgNbdParams(*np.exp(log_p)), x, t_x, big_t).sum(),
        np.array([1.0, 1.0, 1.0, 1.0]),
    )
    return BgNbdParams(r=float(r), alpha=float(alpha), a=float(a), b=float(b))


def _survival_term(params: BgNbdParams, x, t_x, big_t) -> np.ndarray:
    """a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x) for customers with repeats, else 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        term = params.a / (params.b + x - 1) * np.exp(
            (params.r + x) * (np.log(params.alpha + big_t) - np.log(params.alpha + t_x)))
    return np.where(x > 0, term, 0.0)


def probability_alive(params: BgNbdParams, summary: pd.DataFrame) -> np.ndarray:
    """P(still a customer at T | x, t_x, T): equation (A11) of the BG/NBD paper's appendix."""
    x, t_x, big_t = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    return 1.0 / (1.0 + _survival_term(params, x, t_x, big_t))


def expected_purchases(params: BgNbdParams, summary: pd.DataFrame, horizon: float) -> np.ndarray:
    """Expected purchases in the next `horizon` periods given each customer's history: equation (10)."""
    if np.isclose(params.a, 1.0):
        raise ValueError("BG/NBD conditional expectation is undefined at a = 1 (equation 10 divides by a - 1)")
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, big_t = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ratio = (alpha + big_t) / (alpha + big_t + horizon)
    numerator = (a + b + x - 1) / (a - 1) * (
        1 - ratio ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, horizon / (alpha + big_t + horizon)))
    return numerator / (1.0 + _survival_term(params, x, t_x, big_t))


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of the mean spend m_x over x repeat purchases (Fader & Hardie 2013, eq. 5)."""
    p, q, g = params.p, params.q, params.gamma
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(g)
            + (p * x - 1) * np.log(m_x) + p * x * np.log(x) - (p * x + q) * np.log(g + m_x * x))


def fit_gamma_gamma(summary: pd.DataFrame) -> GammaGammaParams:
    """Gamma-Gamma parameters from the customers with at least one repeat purchase and positive spend."""
    repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if repeaters.empty:
        raise ValueError("Gamma-Gamma needs customers with repeat purchases")
    x = repeaters["frequency"].to_numpy(float)
    m_x = repeaters["monetary_value"].to_numpy(float)
    p, q, g = _fit(
        lambda log_p: -gamma_gamma_log_likelihood(GammaGammaParams(*np.exp(log_p)), x, m_x).sum(),
        np.array([1.0, 1.0, 1.0]),
    )
    return GammaGammaParams(p=float(p), q=float(q), gamma=float(g))


def expected_spend_per_purchase(params: GammaGammaParams, summary: pd.DataFrame) -> np.ndarray:
    """E[spend | x, m_x]: a weighted mean of the population mean and the customer's own (eq. 4 of the note);
    the population mean p * gamma / (q - 1) for customers without repeats."""
    if params.q <= 1:
        raise ValueError("Gamma-Gamma's expected spend needs q > 1")
    p, q, g = params.p, params.q, params.gamma
    x = summary["frequency"].to_numpy(float)
    m_x = summary["monetary_value"].to_numpy(float)
    return (g + m_x * x) * p / (p * x + q - 1)


def customer_lifetime_value(
    transactions: pd.DataFrame,
    calibration_end: datetime | pd.Timestamp,
    horizon_periods: float,
    *,
    customer_col: str = "customer_id",
    time_col: str = "ordered_at",
    amount_col: str = "amount",
    period_days: float = 7.0,
) -> tuple[pd.DataFrame, BgNbdParams, GammaGammaParams]:
    """Per customer: P(alive), expected purchases and expected value over the next `horizon_periods`
    (undiscounted), with the fitted parameters. The whole path from raw transactions."""
    summary = rfm_summary(transactions, calibration_end, customer_col=customer_col, time_col=time_col,
                          amount_col=amount_col, period_days=period_days)
    bgnbd = fit_bgnbd(summary)
    gamma_gamma = fit_gamma_gamma(summary)
    purchases = expected_purchases(bgnbd, summary, horizon_periods)
    result = summary.assign(
        probability_alive=probability_alive(bgnbd, summary),
        expected_purchases=purchases,
        expected_spend_per_purchase=expected_spend_per_purchase(gamma_gamma, summary),
    )
    result["expected_value"] = result["expected_purchases"] * result["expected_spend_per_purchase"]
    return result, bgnbd, gamma_gamma


@dataclass
class LifetimeValues:
    """One lifetime-value run as the warehouse keeps it: a row per customer with a purchase, the model
    columns null where a model could not be fitted (`fallbacks` says why)."""

    table: pd.DataFrame
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    # "bgnbd" / "gamma_gamma" -> why that model's columns are null
    fallbacks: dict[str, str]


def _converged(fit, summary: pd.DataFrame, name: str, nulls: str):
    """The fitted parameters and None, or None and why not: a likelihood that does not converge is an
    outcome of the data (too little of it, or degenerate), not a failure of the run."""
    try:
        return fit(summary), None
    except RuntimeError as failure:
        return None, f"{nulls}: the {name} likelihood did not converge ({failure})"


def _finite(*columns: np.ndarray) -> bool:
    return all(np.isfinite(column).all() for column in columns)


def lifetime_values(transactions: pd.DataFrame, world_clock: datetime | pd.Timestamp,
                    horizon_weeks: int) -> LifetimeValues:
    """Per customer with a purchase by `world_clock` (transactions: customer_id, ordered_at, amount): the RFM
    summary in weeks, P(alive), expected purchases, spend and value over the next `horizon_weeks`.

    On too little history (cdp/predictions/history.py) a model is not fitted and its columns stay null: no
    BG/NBD -> P(alive), purchases and value null; no Gamma-Gamma -> spend and value null. The summary
    columns are always filled, so the table exists, with its columns, from the first order on (and empty
    before it)."""
    summary = rfm_summary(transactions, world_clock, period_days=7)
    unknown = np.full(len(summary), np.nan)
    alive, purchases, spend = unknown, unknown, unknown
    fallbacks: dict[str, str] = {}

    bgnbd, reason = None, bgnbd_shortfall(summary)
    if reason is None:
        bgnbd, reason = _converged(fit_bgnbd, summary, "BG/NBD", "null values")
    if reason is None and np.isclose(bgnbd.a, 1.0):
        reason = "null values: BG/NBD fitted a = 1, where its expected purchases (equation 10) are undefined"
    if reason is None:
        alive, purchases = probability_alive(bgnbd, summary), expected_purchases(bgnbd, summary, horizon_weeks)
        if not _finite(alive, purchases):
            reason = f"null values: the fitted BG/NBD {bgnbd} gives non-finite expectations"
            alive, purchases = unknown, unknown
    if reason:
        fallbacks["bgnbd"], bgnbd = reason, None

    gamma_gamma, reason = None, gamma_gamma_shortfall(summary)
    if reason is None:
        gamma_gamma, reason = _converged(fit_gamma_gamma, summary, "Gamma-Gamma", "null spend and value")
    if reason is None and gamma_gamma.q <= 1:
        reason = f"null spend and value: Gamma-Gamma fitted q = {gamma_gamma.q:.3f}, its mean spend needs q > 1"
    if reason is None:
        spend = expected_spend_per_purchase(gamma_gamma, summary)
        if not _finite(spend):
            reason = f"null spend and value: the fitted Gamma-Gamma {gamma_gamma} gives non-finite spend"
            spend = unknown
    if reason:
        fallbacks["gamma_gamma"], gamma_gamma = reason, None

    table = pd.DataFrame({
        "customer_id": summary.index.astype(str),
        "repeat_purchases": summary["frequency"].to_numpy(),
        "recency_weeks": summary["recency"].to_numpy(float),
        "age_weeks": summary["T"].to_numpy(float),
        "mean_repeat_spend": summary["monetary_value"].to_numpy(float),
        "probability_alive": alive,
        f"expected_purchases_{horizon_weeks}w": purchases,
        "expected_spend_per_purchase": spend,
        f"expected_value_{horizon_weeks}w": purchases * spend,
    })
    table["scored_at"] = pd.Timestamp(world_clock)
    return LifetimeValues(table=table, bgnbd=bgnbd, gamma_gamma=gamma_gamma, fallbacks=fallbacks)
