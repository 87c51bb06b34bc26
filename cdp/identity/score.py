"""Quality of identity resolution against the sandbox's ground truth (`cdp identity score`; sandbox only).

The production pipeline never reads the truth files: only this command, the tests and the benchmark do.

Pairwise measures over entity records, as usual for entity resolution: a pair of records is predicted
together when they share a customer id, truly together when they share a person.
- precision over all records except shared devices (their person is only their main user);
- recall over `linkable` records (another record of the person is reachable through personal identifiers:
  the others cannot be joined by anyone);
- recall over all records: every pair of one person's records, linkable or not, shared devices included
  (with their main user). The ceiling a world leaves resolution: below 1 by the pairs no personal identifier
  joins (a guest order under a partner's address, a device never logged in), so it moves with the world's
  conventions, and the gap to the linkable recall says how much of a person stays out of reach;
- persons split: persons whose linkable records sit in more than one profile;
- profiles mixing persons: profiles (shared devices aside) holding records of several persons;
- joined only through bad identifiers: mixing profiles whose persons fall apart once the values the truth
  marks shared_device, family_email or junk (and shared devices) are taken out. Must be 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

BAD_KINDS = ("shared_device", "family_email", "junk")


@dataclass(frozen=True)
class Score:
    records: int
    precision: float
    recall: float
    f1: float
    persons_split: int
    profiles_mixing_persons: int
    profiles_joined_only_by_bad_identifiers: int
    recall_all_records: float

    def lines(self) -> list[str]:
        return [
            f"records scored:                              {self.records}",
            f"pairwise precision (all but shared devices): {self.precision:.4f}",
            f"pairwise recall (linkable records):          {self.recall:.4f}",
            f"pairwise recall (all records):               {self.recall_all_records:.4f}",
            f"F1:                                          {self.f1:.4f}",
            f"persons split across profiles:               {self.persons_split}",
            f"profiles mixing persons:                     {self.profiles_mixing_persons}",
            f"profiles joined only by shared/family/junk:  {self.profiles_joined_only_by_bad_identifiers}",
        ]


def _pairs(counts: pd.Series) -> float:
    return float((counts * (counts - 1) / 2).sum())


def pairwise_scores(frame: pd.DataFrame) -> tuple[float, float, int, int]:
    """frame: one row per truth record with person_id, customer_id, shared, linkable.

    Returns precision, recall, persons split, profiles mixing persons. A record the pipeline did not assign
    counts as a profile of its own.
    """
    unassigned = pd.Series("unassigned:" + frame.index.astype(str), index=frame.index)
    frame = frame.assign(customer_id=frame["customer_id"].fillna(unassigned))
    scored = frame[~frame["shared"]]
    predicted = _pairs(scored.groupby("customer_id").size())
    agreed = _pairs(scored.groupby(["customer_id", "person_id"]).size())
    precision = agreed / predicted if predicted else 1.0
    linkable = frame[frame["linkable"]]
    true_pairs = _pairs(linkable.groupby("person_id").size())
    found = _pairs(linkable.groupby(["customer_id", "person_id"]).size())
    recall = found / true_pairs if true_pairs else 1.0
    split = int((linkable.groupby("person_id")["customer_id"].nunique() > 1).sum())
    mixing = int((scored.groupby("customer_id")["person_id"].nunique() > 1).sum())
    return precision, recall, split, mixing


def recall_over_all_records(frame: pd.DataFrame) -> float:
    """Pairwise recall over every truth record (frame as for `pairwise_scores`), not only linkable ones."""
    unassigned = pd.Series("unassigned:" + frame.index.astype(str), index=frame.index)
    frame = frame.assign(customer_id=frame["customer_id"].fillna(unassigned))
    true_pairs = _pairs(frame.groupby("person_id").size())
    found = _pairs(frame.groupby(["customer_id", "person_id"]).size())
    return found / true_pairs if true_pairs else 1.0


def joined_only_by_bad(frame: pd.DataFrame, links: pd.DataFrame) -> int:
    """Mixing profiles whose persons are not joined once bad identifiers and shared devices are removed.

    links: (source, record_type, record_id, id_type, match_key, kind) for every kept link of a record.
    """
    scored = frame[~frame["shared"]]
    persons = scored.groupby("customer_id")["person_id"].nunique()
    mixing = set(persons[persons > 1].index)
    if not mixing:
        return 0
    key = ["source", "record_type", "record_id"]
    rows = scored[scored["customer_id"].isin(mixing)]
    good = links[~links["kind"].isin(BAD_KINDS)].merge(rows[[*key, "customer_id", "person_id"]], on=key)
    count = 0
    for customer_id, members in rows.groupby("customer_id"):
        parent = {tuple(r): tuple(r) for r in members[key].itertuples(index=False)}

        def find(x, parent=parent):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        mine = good[good["customer_id"] == customer_id]
        for _, group in mine.groupby(["id_type", "match_key"]):
            nodes = [tuple(r) for r in group[key].itertuples(index=False)]
            for other in nodes[1:]:
                parent[find(other)] = find(nodes[0])
        person_of = {tuple(r[:3]): r[3] for r in members[[*key, "person_id"]].itertuples(index=False)}
        persons_per_part: dict = {}
        for node, person in person_of.items():
            persons_per_part.setdefault(find(node), set()).add(person)
        if all(len(p) == 1 for p in persons_per_part.values()):
            count += 1
    return count


def score(con: duckdb.DuckDBPyConnection, sandbox_dir: Path) -> Score:
    """Score the warehouse behind `con` (the published read copy) against the truth files in sandbox_dir."""
    truth = sandbox_dir / "ground_truth.parquet"
    identifiers = sandbox_dir / "identifier_truth.parquet"
    if not truth.exists():
        raise FileNotFoundError(f"No ground truth at {truth}: scoring needs a sandbox world.")
    frame = con.execute(f"""
        select t.source, t.record_type, t.record_id, t.person_id, t.shared, t.linkable, a.customer_id
        from read_parquet('{truth}') t
        left join marts.customer_source_records a using (source, record_type, record_id)""").df()
    links = con.execute(f"""
        with kinds as (
            select id_type, normalized_value, max(kind) as kind
            from read_parquet('{identifiers}') group by id_type, normalized_value)
        select e.source, e.record_type, e.record_id, e.id_type, e.match_key, coalesce(k.kind, 'unknown') as kind
        from identity.int_identity__edges e
        left join kinds k on k.id_type = e.id_type and k.normalized_value = e.match_key
        where not exists (select 1 from identity.refused_values r
                          where r.id_type = e.id_type and r.match_key = e.match_key)""").df()
    precision, recall, split, mixing = pairwise_scores(frame)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(len(frame), precision, recall, f1, split, mixing, joined_only_by_bad(frame, links),
                 recall_over_all_records(frame))
