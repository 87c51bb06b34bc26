"""The resolution step on a hand-made warehouse: the graph read back through hashed keys, refused values named,
and a merge written with the edge that explains it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from cdp.identity.step import load_graph, run_resolution

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = [("shopify_customer_id", 1, 1), ("email", 5, 5), ("phone", 4, 1)]  # id_type, trust_rank, max_per_profile


class Warehouse:
    """The step's inputs (records, edges, identifier types, device identifiers) in an in-memory DuckDB."""

    def __init__(self):
        self.con = duckdb.connect()
        self.con.execute("create schema identity")
        self.con.execute("create table identity.identity_identifier_types as select * from (values "
                         + ", ".join(f"('{t}', {rank}, {limit})" for t, rank, limit in TYPES)
                         + ") as t(id_type, trust_rank, max_per_profile)")
        self.con.execute("""create table identity.int_identity__device_identifiers
            (device_id varchar, is_shared_device boolean)""")

    def load(self, records: dict[str, list[tuple[str, str]]]) -> None:
        """records: record id -> [(id_type, match_key)], created a day apart in the given order."""
        trust = {t: rank for t, rank, _ in TYPES}
        self.con.execute("""create or replace table identity.int_identity__records as
            select * from (values ('shopify', 'customer', 'x', now())) as t(source, record_type, record_id,
            created_at) where false""")
        self.con.execute("""create or replace table identity.int_identity__edges
            (source varchar, record_type varchar, record_id varchar, id_type varchar, match_key varchar,
             trust_rank integer)""")
        for day, (record_id, ids) in enumerate(records.items()):
            self.con.execute("insert into identity.int_identity__records values ('shopify', 'customer', ?, ?)",
                             [record_id, T0 + timedelta(days=day)])
            for id_type, match_key in ids:
                self.con.execute("insert into identity.int_identity__edges values ('shopify', 'customer', ?, ?, ?, ?)",
                                 [record_id, id_type, match_key, trust[id_type]])

    def customer_of(self) -> dict[str, str]:
        return dict(self.con.execute("select record_id, customer_id from identity.record_assignments").fetchall())


@pytest.fixture
def warehouse():
    return Warehouse()


def test_records_sharing_a_value_are_one_graph_value_and_others_are_not(warehouse):
    warehouse.load({"a": [("email", "jo@x.com"), ("phone", "+1555")], "b": [("email", "jo@x.com")],
                    "c": [("email", "jo@y.com")]})
    graph = load_graph(warehouse.con)
    assert graph.n_records == 3 and graph.n_values == 3
    value_of = dict(warehouse.con.execute("""select r.record_id || ':' || e.id_type, e.match_key
        from identity.int_identity__edges e join graph_records r using (source, record_type, record_id)""").fetchall())
    numbered = {}
    for r, v in zip(graph.edge_record.tolist(), graph.edge_value.tolist(), strict=True):
        record_id = warehouse.con.execute("select record_id from graph_records where r = ?", [r]).fetchone()[0]
        type_name = graph.type_names[graph.value_type[v]]
        numbered.setdefault(value_of[f"{record_id}:{type_name}"], set()).add(v)
    assert all(len(vs) == 1 for vs in numbered.values())  # one number per value
    assert len({v for vs in numbered.values() for v in vs}) == 3  # distinct values, distinct numbers


def test_a_refused_value_is_written_by_name_with_its_reason(warehouse):
    warehouse.load({"a": [("shopify_customer_id", "1"), ("email", "home@x.com")],
                    "b": [("shopify_customer_id", "2"), ("email", "home@x.com")]})
    summary = run_resolution(warehouse.con, "run-1", T0)
    assert summary.customers == 2 and summary.refused_values == 1
    refused = warehouse.con.execute("select id_type, match_key, reason from identity.refused_values").fetchall()
    assert refused == [("email", "home@x.com",
                        "would give one profile more shopify_customer_id values than the limit")]


def test_a_merge_is_written_with_the_value_that_joined_the_two_profiles(warehouse):
    warehouse.load({"a": [("shopify_customer_id", "1")], "b": [("phone", "+1555")]})
    run_resolution(warehouse.con, "run-1", T0)
    apart = warehouse.customer_of()
    warehouse.load({"a": [("shopify_customer_id", "1"), ("phone", "+1555")], "b": [("phone", "+1555")]})
    summary = run_resolution(warehouse.con, "run-2", T0 + timedelta(days=1))
    assert summary.merges == 1
    assert warehouse.customer_of() == {"a": apart["a"], "b": apart["a"]}
    events = warehouse.con.execute("""select event_type, surviving_customer_id, retired_customer_id,
        edge_id_type, edge_match_key, edge_records from identity.merge_events""").fetchall()
    assert events == [("merge", apart["a"], apart["b"], "phone", "+1555",
                       "shopify:customer:b, shopify:customer:a")]
