"""Backtest AUCs of the propensity models beside the logistic baseline and the oracle; the recommender's
hit rate at 10 beside popularity.

By hand, on a built warehouse of the sandbox (the oracle needs the world's hidden truth):

    export CDP_HOME=/tmp/i6 && cdp sandbox generate --size small --seed 7 && cdp materialize
    .venv/bin/python benchmarks/predictions_backtest.py          # reads a copy; prints one block per model

Oracle AUC: the AUC of the world's true probability (sandbox/world/truth.py) for the same cut-off, window and
population, each customer mapped to the person owning most of its records. Gap closed = (model - baseline) /
(oracle - baseline); the issue's goal is >= 0.5 and ECE <= 0.05. Hit rate at 10: train on interactions up
to 30/60/90 days before the clock, a hit is a customer buying a product new to them afterwards that was in
their list; goal >= 2x popularity. Needs the dbt models prediction_product_interactions/_catalog built.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from cdp.clock import as_of
from cdp.paths import sandbox_dir, warehouse_path
from cdp.predictions.propensity import TARGETS, Target, run_backtest
from cdp.predictions.recommendations import holdout_hit_rate
from cdp.predictions.warehouse_io import read_features, read_orders
from sandbox.world.truth import true_churn_probability, true_purchase_probability

SEED = 7


def customer_persons(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    truth = pq.read_table(sandbox_dir() / "ground_truth.parquet").to_pandas()
    con.register("ground_truth", truth)
    return con.execute("""
        select customer_id, arg_max(person_id, records) as person_id from (
            select r.customer_id, g.person_id, count(*) as records
            from marts.customer_source_records r
            join ground_truth g using (source, record_type, record_id)
            group by all
        ) group by customer_id
    """).df()


def oracle_auc(backtest, persons: pd.DataFrame, target: Target, label_consistent: bool = False):
    """label_consistent: for churn, 1 - P(buy within the window) rather than the world's P(drop out within
    it): the label is "no purchase in 180 days", which a slow buyer who is still alive also earns."""
    from sklearn.metrics import roc_auc_score

    person_truth = pq.read_table(sandbox_dir() / "person_truth.parquet")
    cutoff = pd.Timestamp(backtest.split.evaluation).to_pydatetime()
    if target.name == "purchase":
        true_probability = true_purchase_probability(person_truth, cutoff, target.window_days)
    elif label_consistent:
        true_probability = 1 - true_purchase_probability(person_truth, cutoff, target.window_days)
    else:
        true_probability = true_churn_probability(person_truth, cutoff, target.window_days)
    probability = pd.Series(true_probability, index=person_truth["person_id"].to_pylist())
    person_of = persons.set_index("customer_id")["person_id"]
    truth = backtest.evaluation_customers.map(person_of).map(probability).to_numpy(float)
    known = ~np.isnan(truth)
    return float(roc_auc_score(backtest.evaluation_labels[known], truth[known])), float(known.mean())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(warehouse_path(), copy)
        con = duckdb.connect(str(copy), read_only=True)
        features, orders, persons = read_features(con), read_orders(con), customer_persons(con)
        interactions = con.execute("select * from predictions.prediction_product_interactions "
                                   "order by customer_id, occurred_at, product_id, interaction").df()
        catalog = con.execute("select * from predictions.prediction_product_catalog order by product_id").df()
        con.close()
    world_clock = as_of()
    for target in TARGETS:
        backtest = run_backtest(features, orders, target, world_clock, SEED)
        oracle, covered = oracle_auc(backtest, persons, target)
        gap = oracle - backtest.baseline_auc
        closed = (backtest.auc - backtest.baseline_auc) / gap if gap > 0 else float("nan")
        print(f"{target.name} ({target.window_days}-day window): trained on {[str(c.date()) for c in backtest.split.training]}"
              f", evaluated at {pd.Timestamp(backtest.split.evaluation).date()}")
        print(f"  rows: train {backtest.training_rows} (positive rate {backtest.positives_rate:.3f}), "
              f"evaluation {backtest.evaluation_rows} (positive rate {backtest.evaluation_labels.mean():.3f})")
        print(f"  AUC model {backtest.auc:.4f} | baseline (logistic R,F,T) {backtest.baseline_auc:.4f} | "
              f"oracle {oracle:.4f} (truth for {covered:.1%} of rows) | gap closed {closed:.2f}")
        if target.name == "churn":
            consistent, _ = oracle_auc(backtest, persons, target, label_consistent=True)
            gap = consistent - backtest.baseline_auc
            print(f"  oracle with the label's own truth, 1 - P(buy in {target.window_days} days): {consistent:.4f}"
                  f" | gap closed {(backtest.auc - backtest.baseline_auc) / gap:.2f}")
        print(f"  ECE (10 equal-frequency bins) {backtest.ece:.4f}; lift decile 1 {backtest.lift[0]['lift']:.2f}")
    for days in (30, 60, 90):
        holdout = holdout_hit_rate(interactions, catalog, world_clock - pd.Timedelta(days=days))
        print(f"next best products, holdout {days} days ({holdout.customers} customers buying a new product): "
              f"hit rate@10 {holdout.hit_rate:.4f} vs popularity {holdout.popularity_hit_rate:.4f} "
              f"({holdout.hit_rate / holdout.popularity_hit_rate:.2f}x)")


if __name__ == "__main__":
    main()
