"""The resolution step: read the graph from the warehouse, resolve it, write assignments and merge events.

The only I/O around `resolve` and `assign_customer_ids` (pure, in resolve.py). It runs inside the warehouse
pool (orchestration/assets/identity.py) on the writer connection it is given.

Tables written, in schema `identity`:
- record_assignments: source, record_type, record_id, customer_id, resolved_at, run_id (replaced each run);
- customer_anchors: customer_id, anchor_source, anchor_record_type, anchor_record_id, anchor_created_at;
- refused_values: id_type, match_key, reason, run_id (replaced each run);
- merge_events: appended: event_id, occurred_at (world clock), event_type, surviving_customer_id,
  retired_customer_id, new_customer_id, edge_id_type, edge_match_key, edge_records, run_id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from cdp.identity.resolve import Anchor, Graph, IdEvent, assign_customer_ids, kept_edges, resolve

SCHEMA = "identity"


@dataclass
class LoadedGraph:
    keys: list[tuple[str, str, str]]
    created_at: list
    graph: Graph
    value_names: list[tuple[str, str]]  # (id_type, match_key) per value index


@dataclass
class ResolutionSummary:
    records: int
    edges: int
    values: int
    customers: int
    merges: int
    splits: int
    refused_values: int
    shared_devices: int
    largest_component: int
    greedy_components: int


def load_graph(con: duckdb.DuckDBPyConnection) -> LoadedGraph:
    """Records and kept edges as integer arrays; DuckDB does the string-to-integer mapping."""
    con.execute(f"""
        create or replace temp table graph_records as
        select source, record_type, record_id, created_at,
            row_number() over (order by source, record_type, record_id) - 1 as r
        from {SCHEMA}.int_identity__records""")
    records = con.execute(
        "select source, record_type, record_id, created_at from graph_records order by r"
    ).fetchall()
    con.execute(f"""
        create or replace temp table graph_edges as
        select r.r, e.id_type, e.match_key, e.trust_rank,
            dense_rank() over (order by e.id_type, e.match_key) - 1 as v
        from {SCHEMA}.int_identity__edges e
        join graph_records r using (source, record_type, record_id)""")
    edges = con.execute("select r, v from graph_edges").fetchnumpy()
    values = con.execute(
        "select v, any_value(id_type), any_value(match_key), min(trust_rank) from graph_edges group by v order by v"
    ).fetchall()
    type_names = tuple(sorted({t for _, t, _, _ in values}))
    graph = Graph(
        n_records=len(records),
        edge_record=np.asarray(edges["r"], dtype=np.int64),
        edge_value=np.asarray(edges["v"], dtype=np.int64),
        value_type=np.asarray([type_names.index(t) for _, t, _, _ in values], dtype=np.int64),
        value_trust=np.asarray([rank for *_, rank in values], dtype=np.int64),
        type_names=type_names,
    )
    return LoadedGraph(
        keys=[(s, t, i) for s, t, i, _ in records],
        created_at=[c for *_, c in records],
        graph=graph,
        value_names=[(t, k) for _, t, k, _ in values],
    )


def load_limits(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        f"select id_type, max_per_profile from {SCHEMA}.identity_identifier_types where max_per_profile is not null"
    ).fetchall()
    return {t: int(n) for t, n in rows}


def load_previous(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict[str, Anchor]]:
    if not _table_exists(con, "record_assignments"):
        return {}, {}
    ids = {(s, t, i): c for s, t, i, c in con.execute(
        f"select source, record_type, record_id, customer_id from {SCHEMA}.record_assignments").fetchall()}
    anchors = {}
    if _table_exists(con, "customer_anchors"):
        for cid, s, t, i, at in con.execute(
            f"""select customer_id, anchor_source, anchor_record_type, anchor_record_id, anchor_created_at
                from {SCHEMA}.customer_anchors""").fetchall():
            anchors[cid] = Anchor(at, (s, t, i))
    return ids, anchors


def run_resolution(con: duckdb.DuckDBPyConnection, run_id: str, occurred_at: datetime) -> ResolutionSummary:
    loaded = load_graph(con)
    graph = loaded.graph
    resolution = resolve(graph, load_limits(con))
    previous_ids, previous_anchors = load_previous(con)
    assignment = assign_customer_ids(loaded.keys, loaded.created_at, resolution.labels, previous_ids,
                                     previous_anchors)
    kept = kept_edges(graph, resolution)
    events = [_event_row(e, loaded, resolution.labels, kept, previous_ids, assignment.customer_ids, run_id,
                         occurred_at) for e in assignment.events]
    _write(con, loaded, assignment, resolution, events, run_id, occurred_at)
    sizes = np.bincount(resolution.labels) if graph.n_records else np.array([0])
    shared = con.execute(f"""select count(distinct device_id) from {SCHEMA}.int_identity__device_identifiers
        where is_shared_device""").fetchone()[0]
    return ResolutionSummary(
        records=graph.n_records, edges=int(kept.sum()), values=graph.n_values,
        customers=len(assignment.anchors),
        merges=sum(e.event_type == "merge" for e in assignment.events),
        splits=sum(e.event_type == "split" for e in assignment.events),
        refused_values=len(resolution.refused_values), shared_devices=int(shared),
        largest_component=int(sizes.max()), greedy_components=resolution.greedy_components,
    )


def _event_row(event: IdEvent, loaded: LoadedGraph, labels: np.ndarray, kept: np.ndarray, previous_ids: dict,
               customer_ids: list[str], run_id: str, occurred_at: datetime) -> dict:
    """The event with the edge that explains it: for a merge, a kept value joining a record of the retired id
    to a record of another (or a new) one; for a split, none (what joined them is gone or refused)."""
    edge = (None, None, None)
    if event.event_type == "merge":
        edge = _joining_value(event, loaded, labels, kept, previous_ids)
    other = event.other_customer_id
    key = f"{run_id}|{event.event_type}|{event.surviving_customer_id}|{other}"
    return {
        "event_id": hashlib.sha256(key.encode()).hexdigest()[:24],
        "occurred_at": occurred_at,
        "event_type": event.event_type,
        "surviving_customer_id": event.surviving_customer_id,
        "retired_customer_id": other if event.event_type == "merge" else None,
        "new_customer_id": other if event.event_type == "split" else None,
        "edge_id_type": edge[0],
        "edge_match_key": edge[1],
        "edge_records": edge[2],
        "run_id": run_id,
    }


def _joining_value(event: IdEvent, loaded: LoadedGraph, labels, kept, previous_ids):
    graph = loaded.graph
    in_component = kept & (labels[graph.edge_record] == event.component)
    records_of_value: dict[int, list[int]] = {}
    for r, v in zip(graph.edge_record[in_component].tolist(), graph.edge_value[in_component].tolist(), strict=True):
        records_of_value.setdefault(v, []).append(r)
    candidates = []
    for v, records in records_of_value.items():
        before = {previous_ids.get(loaded.keys[r]) for r in records}
        if event.other_customer_id in before and len(before) > 1:
            direct = event.surviving_customer_id in before
            candidates.append((not direct, int(graph.value_trust[v]), v, records))
    if not candidates:
        return (None, None, None)
    _, _, v, records = min(candidates)
    id_type, match_key = loaded.value_names[v]
    shown = sorted(records, key=lambda r: previous_ids.get(loaded.keys[r]) != event.other_customer_id)[:4]
    return (id_type, match_key, ", ".join(":".join(loaded.keys[r]) for r in shown))


def _write(con, loaded: LoadedGraph, assignment, resolution, events: list[dict], run_id: str, occurred_at) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    assignments = pa.table({
        "source": [k[0] for k in loaded.keys],
        "record_type": [k[1] for k in loaded.keys],
        "record_id": [k[2] for k in loaded.keys],
        "customer_id": assignment.customer_ids,
    })
    anchors = pa.table({
        "customer_id": list(assignment.anchors),
        "anchor_source": [a.key[0] for a in assignment.anchors.values()],
        "anchor_record_type": [a.key[1] for a in assignment.anchors.values()],
        "anchor_record_id": [a.key[2] for a in assignment.anchors.values()],
        "anchor_created_at": pa.array([a.created_at for a in assignment.anchors.values()],
                                      type=pa.timestamp("us", tz="UTC")),
    })
    refused = pa.table({
        "id_type": [loaded.value_names[v][0] for v in resolution.refused_values],
        "match_key": [loaded.value_names[v][1] for v in resolution.refused_values],
        "reason": list(resolution.refused_values.values()),
    }, schema=pa.schema([("id_type", pa.string()), ("match_key", pa.string()), ("reason", pa.string())]))
    con.register("assignments_arrow", assignments)
    con.register("anchors_arrow", anchors)
    con.register("refused_arrow", refused)
    con.execute("begin")
    try:
        con.execute(f"""create or replace table {SCHEMA}.record_assignments as
            select *, cast(? as timestamptz) as resolved_at, cast(? as varchar) as run_id from assignments_arrow""",
                    [occurred_at, run_id])
        con.execute(f"create or replace table {SCHEMA}.customer_anchors as select * from anchors_arrow")
        con.execute(f"""create or replace table {SCHEMA}.refused_values as
            select *, cast(? as varchar) as run_id from refused_arrow""", [run_id])
        con.execute(f"""create table if not exists {SCHEMA}.merge_events (
            event_id varchar primary key, occurred_at timestamptz, event_type varchar,
            surviving_customer_id varchar, retired_customer_id varchar, new_customer_id varchar,
            edge_id_type varchar, edge_match_key varchar, edge_records varchar, run_id varchar)""")
        for row in events:
            con.execute(f"insert or ignore into {SCHEMA}.merge_events values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        list(row.values()))
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        for name in ("assignments_arrow", "anchors_arrow", "refused_arrow"):
            con.unregister(name)


def _table_exists(con, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [SCHEMA, name]).fetchone()[0])
