"""Stable customer ids: each resolved component gets an id that survives reruns, full refreshes and merges.

Done in SQL on the resolution's connection, because it is a join of every record against the previous run's
assignments: in Python that was most of the step's time.

The rule (documented in the model YAML of identity_merges):
- a component holding no previously assigned record gets `cus_` + the first 20 hex digits of
  sha256("source|record_type|record_id") of its anchor, the anchor being its earliest-created record (ties by
  source, record type, record id); a full rebuild without state therefore gives the same id again;
- a previous id belongs to the component holding its anchor record (if that record is gone, to the component
  holding most of its records, ties to the component with the earliest anchor);
- a component owning several previous ids (a merge) keeps the one with the oldest anchor; the others retire
  (one `merge` event each);
- records of a previous id that end up outside the component owning it left it (a `split` event, with the id
  that part has now); such a part owning no id gets one from its own anchor.
New records joining a profile never change its id, even when they are older than its anchor.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from cdp.warehouse import registered

SCHEMA = "identity"


@dataclass(frozen=True)
class IdEvent:
    event_type: str  # merge | split
    surviving_customer_id: str
    other_customer_id: str  # merge: the retired id; split: the id of the part that left
    component: int  # the current component the event happened in (merge) or that left (split)


def assign_customer_ids(con: duckdb.DuckDBPyConnection, labels: np.ndarray) -> list[IdEvent]:
    """Give each component (labels[r] for record r) a customer id, keeping the previous run's ids.

    Reads temp table `graph_records` (r, source, record_type, record_id, created_at) and, when they exist,
    `identity.record_assignments` and `identity.customer_anchors` (the previous run). Leaves temp tables
    `labelled` (each record with its component and previous id) and `component_ids` (label, customer_id and
    the anchor's created_at, source, record_type, record_id) on the connection; returns the merge and split
    events.
    """
    previous_ids, previous_anchors = _previous_run(con)
    with registered(con, labels_arrow=pa.table({"r": np.arange(len(labels), dtype=np.int64), "label": labels})):
        con.execute(f"""create or replace temp table labelled as
            select g.r, l.label, g.source, g.record_type, g.record_id, g.created_at, p.customer_id as previous_id
            from graph_records g
            join labels_arrow l using (r)
            left join {previous_ids} p using (source, record_type, record_id)""")
    con.execute("""create or replace temp table previous_counts as
        select label, previous_id, count(*) as n from labelled where previous_id is not null group by all""")
    # Most components of a rerun are settled: they hold records of one previous id only, and that id's records
    # lie in no other component. Each keeps its id and anchor, and has no event, so the rule below (the bulk
    # of the step's time when it ran over every record) only looks at the rest.
    con.execute(f"""create or replace temp table settled_ids as
        select c.label, a.customer_id, a.anchor_created_at, a.anchor_source, a.anchor_record_type,
            a.anchor_record_id
        from (select label, any_value(previous_id) as previous_id
              from previous_counts
              where previous_id in (select previous_id from previous_counts group by previous_id having count(*) = 1)
              group by label having count(*) = 1) c
        join {previous_anchors} a on a.customer_id = c.previous_id""")
    con.execute("""create or replace temp view unsettled as
        select * from labelled where label not in (select label from settled_ids)""")
    con.execute("""create or replace temp view unsettled_counts as
        select * from previous_counts where label not in (select label from settled_ids)""")
    con.execute("""create or replace temp table component_anchors as
        select label, unnest(anchor) from (
            select label, arg_min(struct_pack(created_at, source, record_type, record_id),
                                  (created_at, source, record_type, record_id)) as anchor
            from unsettled group by label)""")
    # Each previous id's owner: the component holding its anchor record, else the one holding most of it.
    con.execute(f"""create or replace temp table previous_owner as
        with anchored as (
            select a.customer_id as previous_id, l.label
            from {previous_anchors} a
            join unsettled l on l.source = a.anchor_source and l.record_type = a.anchor_record_type
                and l.record_id = a.anchor_record_id
        ),
        by_count as (
            select c.previous_id,
                arg_min(c.label, (-c.n, o.created_at, o.source, o.record_type, o.record_id)) as label
            from unsettled_counts c
            join component_anchors o using (label)
            group by c.previous_id
        )
        select b.previous_id, coalesce(a.label, b.label) as label
        from by_count b left join anchored a using (previous_id)""")
    # What each owned id is ranked by: its own anchor, or the component's when the previous run left none.
    con.execute(f"""create or replace temp table owned as
        select o.label, o.previous_id,
            if(a.customer_id is null, c.created_at, a.anchor_created_at) as created_at,
            if(a.customer_id is null, c.source, a.anchor_source) as source,
            if(a.customer_id is null, c.record_type, a.anchor_record_type) as record_type,
            if(a.customer_id is null, c.record_id, a.anchor_record_id) as record_id
        from previous_owner o
        join component_anchors c using (label)
        left join {previous_anchors} a on a.customer_id = o.previous_id""")
    con.execute("""create or replace temp table component_ids as
        with survivors as (
            select label, arg_min(struct_pack(previous_id, created_at, source, record_type, record_id),
                                  (created_at, source, record_type, record_id, previous_id)) as s
            from owned group by label
        )
        select c.label,
            coalesce(s.s.previous_id,
                     'cus_' || left(sha256(c.source || '|' || c.record_type || '|' || c.record_id), 20))
                as customer_id,
            if(s.label is null, c.created_at, s.s.created_at) as anchor_created_at,
            if(s.label is null, c.source, s.s.source) as anchor_source,
            if(s.label is null, c.record_type, s.s.record_type) as anchor_record_type,
            if(s.label is null, c.record_id, s.s.record_id) as anchor_record_id
        from component_anchors c
        left join survivors s using (label)
        union all
        select * from settled_ids""")
    rows = con.execute("""
        select 'merge', c.customer_id, o.previous_id, o.label
        from owned o join component_ids c using (label)
        where o.previous_id <> c.customer_id
        union all
        select 'split', p.previous_id, c.customer_id, p.label
        from unsettled_counts p
        join previous_owner o using (previous_id)
        join component_ids c on c.label = p.label
        where o.label <> p.label
        order by 1, 2, 3""").fetchall()
    return [IdEvent(kind, surviving, other, int(label)) for kind, surviving, other, label in rows]


def _previous_run(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The previous run's assignments and anchors, or empty relations of the same shape on a first run."""
    tables = {name for (name,) in con.execute(
        "select table_name from duckdb_tables() where schema_name = ? and not temporary", [SCHEMA]).fetchall()}
    ids = (f"{SCHEMA}.record_assignments" if "record_assignments" in tables else
           "(select ''::varchar as source, ''::varchar as record_type, ''::varchar as record_id, "
           "''::varchar as customer_id where false)")
    anchors = (f"{SCHEMA}.customer_anchors" if "customer_anchors" in tables else
               "(select ''::varchar as customer_id, null::timestamptz as anchor_created_at, "
               "''::varchar as anchor_source, ''::varchar as anchor_record_type, ''::varchar as anchor_record_id "
               "where false)")
    return ids, anchors
