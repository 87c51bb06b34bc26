"""Customer ids across runs, on hand-made components: the survivor rule and the merge and split events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from cdp.identity.stable_ids import assign_customer_ids

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def id_from_anchor(record_id: str) -> str:
    """The documented id of a component with no previous id: from its anchor record alone."""
    return "cus_" + hashlib.sha256(f"src|rec|{record_id}".encode()).hexdigest()[:20]


class Runs:
    """Successive resolution runs on one warehouse: each run's ids and anchors are the next run's previous."""

    def __init__(self):
        self.con = duckdb.connect()
        self.con.execute("create schema identity")

    def run(self, created: dict[str, datetime], labels: list[int]) -> tuple[dict[str, str], list[tuple]]:
        names = list(created)
        records = pa.table({"r": range(len(names)), "source": ["src"] * len(names), "record_type": ["rec"] * len(names),
                            "record_id": names, "created_at": list(created.values())})  # fmt: skip
        self.con.register("records_arrow", records)
        self.con.execute("create or replace temp table graph_records as select * from records_arrow")
        events = assign_customer_ids(self.con, np.array(labels, dtype=np.int64))
        self.con.execute("""create or replace table identity.record_assignments as
            select source, record_type, record_id, customer_id from labelled join component_ids using (label)""")
        self.con.execute("""create or replace table identity.customer_anchors as
            select customer_id, anchor_source, anchor_record_type, anchor_record_id, anchor_created_at
            from component_ids""")
        ids = dict(self.con.execute("select record_id, customer_id from identity.record_assignments").fetchall())
        return ids, [(e.event_type, e.surviving_customer_id, e.other_customer_id) for e in events]


@pytest.fixture
def runs():
    return Runs()


def test_ids_come_from_the_anchor_and_do_not_change_on_a_rerun(runs):
    created = {"old": T0, "new": T0 + timedelta(days=3)}
    first, events = runs.run(created, [0, 0])
    assert first == {"old": id_from_anchor("old"), "new": id_from_anchor("old")} and events == []
    assert runs.run(created, [0, 0]) == (first, [])


def test_a_full_rebuild_without_state_gives_the_same_ids(runs):
    created = {"a": T0, "b": T0 + timedelta(days=1), "c": T0 + timedelta(days=2)}
    first, _ = runs.run(created, [0, 1, 1])
    assert Runs().run(created, [0, 1, 1])[0] == first


def test_a_merge_keeps_the_older_anchors_id_and_records_one_merge_event(runs):
    created = {"a": T0, "b": T0 + timedelta(days=1)}
    apart, _ = runs.run(created, [0, 1])
    merged, events = runs.run(created, [0, 0])
    assert merged == {"a": apart["a"], "b": apart["a"]}
    assert events == [("merge", apart["a"], apart["b"])]


def test_a_split_leaves_the_id_with_the_part_holding_the_anchor(runs):
    created = {"a": T0, "b": T0 + timedelta(days=1), "c": T0 + timedelta(days=2)}
    together, _ = runs.run(created, [0, 0, 0])
    split, events = runs.run(created, [1, 0, 0])
    kept = together["a"]
    assert split == {"a": kept, "b": id_from_anchor("b"), "c": id_from_anchor("b")}
    assert events == [("split", kept, id_from_anchor("b"))]


def test_an_id_whose_anchor_record_is_gone_stays_with_most_of_its_records(runs):
    created = {"a": T0, "b": T0 + timedelta(days=1), "c": T0 + timedelta(days=2), "d": T0 + timedelta(days=3)}
    together, _ = runs.run(created, [0, 0, 0, 0])
    del created["a"]
    after, events = runs.run(created, [0, 1, 1])  # b alone; c and d together
    assert after == {"b": id_from_anchor("b"), "c": together["a"], "d": together["a"]}
    assert events == [("split", together["a"], id_from_anchor("b"))]


def test_a_late_older_record_joining_a_profile_does_not_take_its_id(runs):
    # a late event reveals that an older anonymous device belongs to a known customer
    created = {"customer": T0 + timedelta(days=5), "device": T0}
    before, _ = runs.run(created, [0, 1])
    after, events = runs.run(created, [0, 0])
    # the device profile is older, so its id survives; the merge is on the ledger
    assert after == {"customer": before["device"], "device": before["device"]}
    assert events == [("merge", before["device"], before["customer"])]


def test_a_new_record_attaching_to_a_profile_is_not_a_merge(runs):
    before, _ = runs.run({"customer": T0}, [0])
    after, events = runs.run({"customer": T0, "new_order": T0 + timedelta(days=9)}, [0, 0])
    assert after == {"customer": before["customer"], "new_order": before["customer"]} and events == []
