"""The resolution step: read the graph from the warehouse, resolve it, write assignments and merge events.

The only I/O around `resolve` (pure, in resolve.py) and `assign_customer_ids` (SQL, in stable_ids.py). It runs
inside the warehouse pool (orchestration/assets/identity.py) on the writer connection it is given. Strings stay
in DuckDB: Python sees integer arrays (records r, identifier values v) and the few rows of events.

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

from cdp.identity.resolve import Graph, TieOrder, kept_edges, resolve
from cdp.identity.stable_ids import SCHEMA, IdEvent, assign_customer_ids
from cdp.warehouse import registered


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


def load_graph(con: duckdb.DuckDBPyConnection) -> Graph:
    """Records and edges as integer arrays, with the strings left in DuckDB.

    Records are numbered by their row (temp table graph_records: r, source, record_type, record_id,
    created_at). Values are numbered without a group-by over their strings, which was most of the step's time
    at the large world's size: DuckDB hashes each edge's (id_type, match_key) to 64 bits, the edges come back
    sorted by that hash, and a value is a run of equal hashes. A second, independent hash checks every run
    holds one value; on a collision (about one run in a million at 7M values) the keys are hashed again with
    another salt. Temp table graph_values (v, value_hash, type_index, trust_rank) stays on the connection;
    `value_names` finds a value's id_type and match_key again through its hash.
    """
    type_names = tuple(t for (t,) in con.execute(
        f"select distinct id_type from {SCHEMA}.int_identity__edges order by 1").fetchall())
    for salt in range(HASH_SALTS):
        edges = _hashed_edges(con, type_names, salt)
        if edges is not None:
            break
    else:
        raise RuntimeError(f"identity: {HASH_SALTS} salts in a row gave colliding 64-bit hashes of the graph's "
                           "keys; this should never happen, so report it with the warehouse's record counts")
    value_hash = edges["value_hash"]
    starts = np.ones(len(value_hash), dtype=bool)
    np.not_equal(value_hash[1:], value_hash[:-1], out=starts[1:])
    edge_value = np.cumsum(starts) - 1
    values = pa.table({
        "v": np.arange(int(starts.sum()), dtype=np.int64),
        "value_hash": value_hash[starts],
        "type_index": edges["type_index"][starts].astype(np.int64),
        "trust_rank": edges["trust_rank"][starts].astype(np.int64),
    })
    with registered(con, values_arrow=values):
        con.execute("create or replace temp table graph_values as select * from values_arrow")
    return Graph(
        n_records=con.execute("select count(*) from graph_records").fetchone()[0],
        edge_record=edges["r"],
        edge_value=edge_value,
        value_type=values["type_index"].to_numpy(),
        value_trust=values["trust_rank"].to_numpy(),
        type_names=type_names,
    )


# Salts tried in turn for the keys' hashes; each collides with a chance of about 1e-6 on the large world.
HASH_SALTS = 4


def _hashed_edges(con: duckdb.DuckDBPyConnection, type_names: tuple[str, ...], salt: int) -> dict | None:
    """Every edge as (r, value_hash, type_index, trust_rank), sorted by value_hash; None if two records or two
    values share a hash under this salt. The hashes are temp macros, so that `value_names` hashes alike."""
    con.execute(f"""create or replace temp macro graph_record_hash(source, record_type, record_id) as
        hash(source, record_type, record_id, {salt})""")
    con.execute(f"create or replace temp macro graph_value_hash(id_type, match_key) as hash(id_type, match_key, {salt})")
    con.execute(f"""create or replace temp table graph_records as
        select (row_number() over () - 1)::bigint as r, graph_record_hash(source, record_type, record_id) as record_hash,
            source, record_type, record_id, created_at
        from {SCHEMA}.int_identity__records""")
    if con.execute("select count(distinct record_hash) < count(*) from graph_records").fetchone()[0]:
        return None
    edges = con.execute(f"""select g.r, graph_value_hash(e.id_type, e.match_key) as value_hash,
            hash(e.match_key, e.id_type, {salt} + {HASH_SALTS}) as check_hash,
            list_position(?, e.id_type) - 1 as type_index, e.trust_rank
        from {SCHEMA}.int_identity__edges e
        join graph_records g on g.record_hash = graph_record_hash(e.source, e.record_type, e.record_id)
        order by value_hash""", [list(type_names)]).fetchnumpy()
    edges = {name: np.asarray(column) for name, column in edges.items()}
    same_value = edges["value_hash"][1:] == edges["value_hash"][:-1]
    if (edges["check_hash"][1:] != edges["check_hash"][:-1])[same_value].any():
        return None
    return edges


def value_names(con: duckdb.DuckDBPyConnection, values: np.ndarray) -> pa.Table:
    """(v, id_type, match_key, trust_rank) of the given values, found in the edges again through their hash."""
    with registered(con, wanted_values=pa.table({"v": np.asarray(values, dtype=np.int64)})):
        return con.execute(f"""select distinct g.v, e.id_type, e.match_key, g.trust_rank
            from wanted_values w
            join graph_values g using (v)
            join {SCHEMA}.int_identity__edges e on graph_value_hash(e.id_type, e.match_key) = g.value_hash
            """).to_arrow_table()


def values_by_name(con: duckdb.DuckDBPyConnection) -> TieOrder:
    """The re-resolution's tie order: values by (id_type, match_key), looked up for the few it asks about."""

    def order(values: np.ndarray) -> np.ndarray:
        with registered(con, tie_values=value_names(con, values)):
            return con.execute("select v from tie_values order by id_type, match_key").to_arrow_table()["v"].to_numpy()

    return order


def load_limits(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        f"select id_type, max_per_profile from {SCHEMA}.identity_identifier_types where max_per_profile is not null"
    ).fetchall()
    return {t: int(n) for t, n in rows}


def run_resolution(con: duckdb.DuckDBPyConnection, run_id: str, occurred_at: datetime) -> ResolutionSummary:
    graph = load_graph(con)
    resolution = resolve(graph, load_limits(con), values_by_name(con))
    events = assign_customer_ids(con, resolution.labels)
    kept = kept_edges(graph, resolution)
    refused = pa.table({
        "v": pa.array(list(resolution.refused_values), type=pa.int64()),
        "reason": pa.array(list(resolution.refused_values.values()), type=pa.string()),
    })
    with registered(con, refused_arrow=refused, refused_names=value_names(con, refused["v"].to_numpy())):
        rows = [_event_row(event, edge, run_id, occurred_at) for event, edge in _explaining_edges(con, graph, events)]
        _write(con, rows, run_id, occurred_at)
    sizes = np.bincount(resolution.labels) if graph.n_records else np.array([0])
    shared = con.execute(f"""select count(distinct device_id) from {SCHEMA}.int_identity__device_identifiers
        where is_shared_device""").fetchone()[0]
    return ResolutionSummary(
        records=graph.n_records, edges=int(kept.sum()), values=graph.n_values,
        customers=resolution.n_components,
        merges=sum(e.event_type == "merge" for e in events),
        splits=sum(e.event_type == "split" for e in events),
        refused_values=len(resolution.refused_values), shared_devices=int(shared),
        largest_component=int(sizes.max()), greedy_components=resolution.greedy_components,
    )


def _explaining_edges(con, graph: Graph, events: list[IdEvent]) -> list[tuple[IdEvent, tuple]]:
    """Each event with the edge that explains it: for a merge, a kept value joining a record of the retired id
    to a record of the survivor (or else of a new one), the most trusted such value, with up to four of its
    records, the retired id's first; for a split, none (what joined them is gone or refused)."""
    none = (None, None, None)
    merges = [e for e in events if e.event_type == "merge"]
    if not merges:
        return [(e, none) for e in events]
    merges_arrow = pa.table({
        "label": [e.component for e in merges],
        "survivor": [e.surviving_customer_id for e in merges],
        "retired": [e.other_customer_id for e in merges],
    })
    graph_edges = pa.table({"r": graph.edge_record, "v": graph.edge_value})
    with registered(con, merges_arrow=merges_arrow, graph_edges=graph_edges):
        con.execute("""create or replace temp table merge_candidates as
            with component_edges as (
                select m.label, m.survivor, m.retired, e.v, l.previous_id,
                    l.source || ':' || l.record_type || ':' || l.record_id as record
                from merges_arrow m
                join labelled l on l.label = m.label
                join graph_edges e on e.r = l.r
                where e.v not in (select v from refused_arrow)
            )
            select label, retired, v, bool_or(previous_id = survivor) as direct,
                list(record order by previous_id is distinct from retired, record) as records
            from component_edges
            group by label, retired, v
            having bool_or(previous_id = retired)
                and count(distinct coalesce(previous_id, '')) > 1""")
    candidates = con.execute("select distinct v from merge_candidates").to_arrow_table()["v"].to_numpy()
    with registered(con, candidate_names=value_names(con, candidates)):
        found = {(label, retired): (id_type, match_key, records) for label, retired, id_type, match_key, records
                 in con.execute("""
            select c.label, c.retired, n.id_type, n.match_key, array_to_string(c.records[1:4], ', ')
            from merge_candidates c join candidate_names n using (v)
            qualify row_number() over (partition by c.label, c.retired
                                       order by not c.direct, n.trust_rank, n.id_type, n.match_key) = 1
            """).fetchall()}
    return [(e, found.get((e.component, e.other_customer_id), none) if e.event_type == "merge" else none)
            for e in events]


def _event_row(event: IdEvent, edge: tuple, run_id: str, occurred_at: datetime) -> dict:
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


def _write(con, events: list[dict], run_id: str, occurred_at) -> None:
    """Replace the assignments, anchors and refused values, append the events: one transaction."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute("begin")
    try:
        con.execute(f"""create or replace table {SCHEMA}.record_assignments as
            select l.source, l.record_type, l.record_id, c.customer_id,
                cast(? as timestamptz) as resolved_at, cast(? as varchar) as run_id
            from labelled l join component_ids c using (label)""", [occurred_at, run_id])
        con.execute(f"""create or replace table {SCHEMA}.customer_anchors as
            select customer_id, anchor_source, anchor_record_type, anchor_record_id, anchor_created_at
            from component_ids""")
        con.execute(f"""create or replace table {SCHEMA}.refused_values as
            select g.id_type, g.match_key, f.reason, cast(? as varchar) as run_id
            from refused_arrow f join refused_names g using (v)""", [run_id])
        con.execute(f"""create table if not exists {SCHEMA}.merge_events (
            event_id varchar primary key, occurred_at timestamptz, event_type varchar,
            surviving_customer_id varchar, retired_customer_id varchar, new_customer_id varchar,
            edge_id_type varchar, edge_match_key varchar, edge_records varchar, run_id varchar)""")
        if events:
            con.executemany(f"insert or ignore into {SCHEMA}.merge_events values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [list(row.values()) for row in events])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
