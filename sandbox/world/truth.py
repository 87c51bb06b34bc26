"""Ground truth: which person every record belongs to, what each identifier value is, and the true
probabilities of future behaviour given a person's hidden parameters.

True probabilities (closed form). A person alive at the cut-off T buys by a Poisson process with rate
lambda and drops out after an exponential time with hazard mu (memoryless, so the remaining lifetime at T
is again Exp(mu)). The first of the two competing clocks rings within w days with probability
1 - exp(-(lambda + mu) w), and it is the purchase with probability lambda / (lambda + mu):

    P(buy within w | alive at T) = lambda / (lambda + mu) * (1 - exp(-(lambda + mu) * w))
    P(churn within w | alive at T) = 1 - exp(-mu * w)

A person already dropped out at T buys with probability 0 and has churned with probability 1; a person not
yet acquired at T has no record and gets NaN.
"""

from __future__ import annotations

import shutil
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from sandbox.world.identity import JUNK_VALUES

DAY = 86_400.0


def _state_at(person_truth: pa.Table, cutoff: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = cutoff.timestamp()
    acquired = person_truth["acquired_at"].cast(pa.int64()).to_numpy() / 1e6
    dropout = person_truth["dropout_at"].cast(pa.int64()).to_numpy() / 1e6
    lam = person_truth["purchase_rate_per_day"].to_numpy()
    mu = person_truth["dropout_rate_per_day"].to_numpy()
    return acquired <= t, (acquired <= t) & (t < dropout), lam, mu


def true_purchase_probability(person_truth: pa.Table, cutoff: datetime, window_days: float) -> np.ndarray:
    known, alive, lam, mu = _state_at(person_truth, cutoff)
    p = lam / (lam + mu) * (1.0 - np.exp(-(lam + mu) * window_days))
    return np.where(known, np.where(alive, p, 0.0), np.nan)


def true_churn_probability(person_truth: pa.Table, cutoff: datetime, window_days: float) -> np.ndarray:
    known, alive, _, mu = _state_at(person_truth, cutoff)
    p = 1.0 - np.exp(-mu * window_days)
    return np.where(known, np.where(alive, p, 1.0), np.nan)


def identifier_kinds(id_types: list[str], normalized: list[str], n_persons: list[int]) -> list[str]:
    """junk (a value many use), shared_device, family_email (one value, two people), else personal."""
    kinds = []
    for id_type, value, n in zip(id_types, normalized, n_persons, strict=True):
        if value.strip().lower() in JUNK_VALUES:
            kinds.append("junk")
        elif n > 1 and id_type == "device_id":
            kinds.append("shared_device")
        elif n > 1 and id_type == "email":
            kinds.append("family_email")
        else:
            kinds.append("personal" if n == 1 else "junk")
    return kinds


def linkable_records(record_of_row: np.ndarray, value_of_row: np.ndarray, personal: np.ndarray,
                     person_of_record: np.ndarray) -> np.ndarray:
    """For each record, whether another record of the same person is reachable from it through shared
    identifier values of kind personal (transitively: record - value - record - value ...).

    Inputs are integer codes: row i says record `record_of_row[i]` carries value `value_of_row[i]`;
    `personal[i]` whether that value counts; `person_of_record[r]` the true person of record r.
    """
    n_records = len(person_of_record)
    rec = np.asarray(record_of_row)[personal]
    val = np.asarray(value_of_row)[personal] + n_records  # values are nodes after the records
    n_nodes = max(n_records, int(val.max()) + 1 if len(val) else 0)
    graph = coo_matrix((np.ones(len(rec), dtype=np.int32), (rec, val)), shape=(n_nodes, n_nodes))
    _, label = connected_components(graph, directed=False)
    component = label[:n_records]
    # linkable: the component holds at least two records of this record's person
    key = component.astype(np.int64) * (int(person_of_record.max()) + 1 if n_records else 1) + person_of_record
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return counts[inverse] > 1


def build_truth(sandbox_dir, as_of: datetime) -> dict[str, int]:
    """Write ground_truth.parquet and identifier_truth.parquet from what the generator emitted."""
    # Bounded, so `large` (about 10M identifier rows) spills to disk rather than crowding the machine.
    con = duckdb.connect(config={"memory_limit": "2GB", "threads": 2,
                                 "temp_directory": f"{sandbox_dir}/.truth_tmp"})
    con.execute("set timezone = 'UTC'")
    ids = f"read_parquet('{sandbox_dir}/record_identifiers.parquet')"
    cutoff = int(as_of.timestamp())
    con.execute(f"""create table idents as select distinct source, record_type, record_id, person_id, id_type,
        id_value, normalized_value from {ids} where seen_at is null or seen_at <= {cutoff}""")
    con.execute(f"""create table records as
        select source, record_type, record_id, person_id, shared
        from read_parquet('{sandbox_dir}/entity_truth.parquet')
        union all
        select 'mixpanel', 'device', d.device_id, d.owner, d.shared
        from read_parquet('{sandbox_dir}/devices.parquet') d
        where d.device_id in (select record_id from idents where source = 'mixpanel')""")
    con.execute("""create table values_ as select id_type, normalized_value, count(distinct person_id) n_persons
        from idents group by all""")
    values = con.execute("select id_type, normalized_value, n_persons from values_ order by all").fetch_arrow_table()
    kinds = identifier_kinds(values["id_type"].to_pylist(), values["normalized_value"].to_pylist(),
                             values["n_persons"].to_pylist())
    con.register("kinds_arrow", values.append_column("kind", pa.array(kinds)))
    con.execute("create table kinds as select * from kinds_arrow")
    con.execute(f"""copy (select distinct i.id_type, i.id_value, i.normalized_value, k.kind, k.n_persons
        from idents i join kinds k using (id_type, normalized_value) order by all)
        to '{sandbox_dir}/identifier_truth.parquet' (format parquet)""")
    recs = con.execute("""select source, record_type, record_id, person_id, shared,
        row_number() over (order by source, record_type, record_id) - 1 as r,
        dense_rank() over (order by person_id) - 1 as p from records order by r""").fetch_arrow_table()
    rows = con.execute("""select r.r, dense_rank() over (order by i.id_type, i.normalized_value) - 1,
        k.kind = 'personal'
        from idents i
        join (select source, record_type, record_id,
                row_number() over (order by source, record_type, record_id) - 1 as r from records) r
          using (source, record_type, record_id)
        join kinds k using (id_type, normalized_value)""").fetchnumpy()
    cols = list(rows.values())
    linkable = linkable_records(np.asarray(cols[0]), np.asarray(cols[1]), np.asarray(cols[2], dtype=bool),
                                recs["p"].to_numpy())
    out = recs.select(["source", "record_type", "record_id", "person_id", "shared"]).append_column(
        "linkable", pa.array(linkable))
    pq.write_table(out, f"{sandbox_dir}/ground_truth.parquet")
    con.close()
    shutil.rmtree(f"{sandbox_dir}/.truth_tmp", ignore_errors=True)
    return {"records": out.num_rows, "linkable": int(pc.sum(out["linkable"]).as_py() or 0)}
