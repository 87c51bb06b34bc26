"""How well the lifecycle segments find the world's true dropouts (sandbox truth; never read by the pipeline).

Each customer of identity resolution is mapped to the true person most of its source records belong to.
Among buyers (customers in segments.customer_lifecycle), "truly churned" means the person's dropout time is
at or before the world clock. The `churned` stage is compared with a fixed rule, "no order in the last 365
days", on precision and recall; and the mean true probability of churning within `window_days` (closed
form, sandbox.world.truth) is compared between the at-risk and the active customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq

from sandbox.world.truth import true_churn_probability

FIXED_RULE_DAYS = 365


@dataclass(frozen=True)
class ChurnScore:
    buyers: int
    truly_churned: int
    churned_precision: float
    churned_recall: float
    fixed_rule_precision: float
    fixed_rule_recall: float
    at_risk_mean_true_churn: float
    active_mean_true_churn: float
    window_days: int

    def lines(self) -> list[str]:
        verdict = "beats" if self.passes() else "does NOT beat"
        return [
            f"buyers scored: {self.buyers}, truly churned (dropped out by the world clock): {self.truly_churned}",
            f"lifecycle `churned`:            precision {self.churned_precision:.3f}  recall {self.churned_recall:.3f}",
            f"fixed rule (no order in {FIXED_RULE_DAYS} d): precision {self.fixed_rule_precision:.3f}  "
            f"recall {self.fixed_rule_recall:.3f}",
            f"mean true P(churn within {self.window_days} d): at_risk {self.at_risk_mean_true_churn:.3f}  "
            f"active {self.active_mean_true_churn:.3f}",
            f"verdict: the lifecycle rule {verdict} the fixed rule (precision and recall both at least as good, "
            "at-risk above active)",
        ]

    def passes(self) -> bool:
        return (self.churned_precision >= self.fixed_rule_precision and self.churned_recall >= self.fixed_rule_recall
                and self.at_risk_mean_true_churn > self.active_mean_true_churn)


def precision_recall(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    true_positives = float(np.sum(predicted & actual))
    precision = true_positives / predicted.sum() if predicted.sum() else float("nan")
    recall = true_positives / actual.sum() if actual.sum() else float("nan")
    return precision, recall


def score_churn(con: duckdb.DuckDBPyConnection, sandbox_dir: Path, as_of: datetime,
                window_days: int = 90) -> ChurnScore:
    truth = pq.read_table(sandbox_dir / "person_truth.parquet")
    con.register("person_truth", truth)
    con.execute("create or replace temp table person_churn as select person_id, dropout_at from person_truth")
    probabilities = true_churn_probability(truth, as_of, window_days)
    con.register("person_probability", {"person_id": truth["person_id"].to_numpy(zero_copy_only=False),
                                        "true_churn_probability": probabilities})
    rows = con.execute(f"""
        with ground_truth as (select * from read_parquet('{sandbox_dir / "ground_truth.parquet"}')),
        votes as (
            select r.customer_id, g.person_id, count(*) as records
            from marts.customer_source_records r
            inner join ground_truth g
                on g.source = r.source and g.record_type = r.record_type and g.record_id = r.record_id
            group by 1, 2
        ),
        customer_person as (
            select customer_id, arg_max(person_id, records) as person_id from votes group by customer_id
        )
        select l.lifecycle_stage, l.days_since_last_order, p.dropout_at <= $as_of as truly_churned,
               pp.true_churn_probability
        from segments.customer_lifecycle l
        inner join customer_person cp using (customer_id)
        inner join person_churn p using (person_id)
        inner join person_probability pp using (person_id)
    """, {"as_of": as_of}).fetchall()
    stage = np.array([r[0] for r in rows])
    quiet_days = np.array([r[1] for r in rows], dtype=float)
    actual = np.array([bool(r[2]) for r in rows])
    probability = np.array([r[3] for r in rows], dtype=float)
    precision, recall = precision_recall(stage == "churned", actual)
    fixed_precision, fixed_recall = precision_recall(quiet_days > FIXED_RULE_DAYS, actual)
    return ChurnScore(
        buyers=len(rows), truly_churned=int(actual.sum()),
        churned_precision=precision, churned_recall=recall,
        fixed_rule_precision=fixed_precision, fixed_rule_recall=fixed_recall,
        at_risk_mean_true_churn=float(np.nanmean(probability[stage == "at_risk"])),
        active_mean_true_churn=float(np.nanmean(probability[stage == "active"])),
        window_days=window_days,
    )
