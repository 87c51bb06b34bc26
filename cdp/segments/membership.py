"""Segment membership and its history of entries and exits, kept in the warehouse.

Each build compares who is in each segment model now with the open history rows (members not yet exited):
a customer new to a segment enters at the world clock, a member no longer selected exits at it. Entry and
exit times are the world clock of the build that saw the change, so a rerun at the same clock changes
nothing and "who entered VIP this week" is one query on segment_membership_history. The first build has no
earlier observation, so everyone in a segment then enters at that build's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

SCHEMA = "segments"
MEMBERSHIPS = f"{SCHEMA}.segment_memberships"
HISTORY = f"{SCHEMA}.segment_membership_history"


@dataclass(frozen=True)
class SegmentChange:
    size: int
    entered: int
    exited: int
    sample: list[str] = field(default_factory=list)


class SegmentModelError(RuntimeError):
    pass


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"""create table if not exists {HISTORY} (
        customer_id varchar not null,
        segment_name varchar not null,
        entered_at timestamp with time zone not null,
        exited_at timestamp with time zone
    )""")


def current_members_sql(relations: dict[str, str]) -> str:
    """One select of (customer_id, segment_name) over every segment's relation; distinct per segment."""
    parts = [f"select distinct cast(customer_id as varchar) as customer_id, '{name}' as segment_name from {relation}"
             for name, relation in sorted(relations.items())]
    return " union all ".join(parts) if parts else "select null::varchar customer_id, null::varchar segment_name limit 0"


def check_relations(con: duckdb.DuckDBPyConnection, relations: dict[str, str]) -> None:
    """Every segment model must select a non-null customer_id; say which one does not."""
    for name, relation in sorted(relations.items()):
        columns = {row[0] for row in con.execute(f"select column_name from (describe {relation})").fetchall()}
        if "customer_id" not in columns:
            raise SegmentModelError(
                f"segment {name} ({relation}) has no customer_id column; fix: select customer_id, one row per member."
            )
        nulls, = con.execute(f"select count(*) from {relation} where customer_id is null").fetchone()
        if nulls:
            raise SegmentModelError(f"segment {name} ({relation}) has {nulls} rows without a customer_id.")


def apply_memberships(
    con: duckdb.DuckDBPyConnection, relations: dict[str, str], as_of: datetime, sample_size: int = 5
) -> dict[str, SegmentChange]:
    """Record entries and exits at `as_of`, rebuild segment_memberships, and say what changed per segment.

    Segments that disappeared from the project close their open rows too, so nobody stays a member of a
    segment that no longer exists.
    """
    ensure_tables(con)
    check_relations(con, relations)
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace temp table current_members as {current_members_sql(relations)}")
        con.execute(f"""create or replace temp table exits as
            select h.customer_id, h.segment_name from {HISTORY} h
            where h.exited_at is null
              and not exists (select 1 from current_members c
                              where c.customer_id = h.customer_id and c.segment_name = h.segment_name)""")
        con.execute(f"""create or replace temp table entries as
            select c.customer_id, c.segment_name from current_members c
            where not exists (select 1 from {HISTORY} h where h.exited_at is null
                              and h.customer_id = c.customer_id and h.segment_name = c.segment_name)""")
        con.execute(f"""update {HISTORY} set exited_at = $as_of
            where exited_at is null
              and (customer_id, segment_name) in (select (customer_id, segment_name) from exits)""",
                    {"as_of": as_of})
        con.execute(f"insert into {HISTORY} select customer_id, segment_name, $as_of, null from entries",
                    {"as_of": as_of})
        con.execute(f"""create or replace table {MEMBERSHIPS} as
            select customer_id, segment_name, entered_at from {HISTORY} where exited_at is null
            order by segment_name, customer_id""")
        changes = _changes(con, list(relations), sample_size)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return changes


def _changes(con: duckdb.DuckDBPyConnection, names: list[str], sample_size: int) -> dict[str, SegmentChange]:
    def counts(table: str) -> dict[str, int]:
        return dict(con.execute(f"select segment_name, count(*) from {table} group by 1").fetchall())

    sizes, entered, exited = counts("current_members"), counts("entries"), counts("exits")
    samples: dict[str, list[str]] = {}
    # A stable sample (alphabetical customer ids), so the metadata does not change between identical runs.
    for name, customer_id in con.execute("""select segment_name, customer_id from (
            select *, row_number() over (partition by segment_name order by customer_id) n from current_members)
            where n <= $k order by segment_name, customer_id""", {"k": sample_size}).fetchall():
        samples.setdefault(name, []).append(customer_id)
    return {name: SegmentChange(size=sizes.get(name, 0), entered=entered.get(name, 0), exited=exited.get(name, 0),
                                sample=samples.get(name, [])) for name in names}
