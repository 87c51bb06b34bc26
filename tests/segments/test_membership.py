"""Membership history on an in-memory DuckDB: entries and exits at the world clock, reruns change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from cdp.segments.membership import HISTORY, MEMBERSHIPS, SegmentModelError, apply_memberships

DAY_1 = datetime(2026, 10, 1, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema models")
    con.execute("create table models.vip (customer_id varchar, lifetime_revenue decimal(18, 2))")
    con.execute("create table models.churned (customer_id varchar)")
    yield con
    con.close()


def members(con, segment: str) -> dict[str, datetime]:
    return dict(con.execute(f"select customer_id, entered_at from {MEMBERSHIPS} where segment_name = ?",
                            [segment]).fetchall())


RELATIONS = {"vip": "models.vip", "churned": "models.churned"}


def test_first_build_enters_everyone_at_the_world_clock(con):
    con.execute("insert into models.vip values ('a', 10), ('b', 20)")
    changes = apply_memberships(con, RELATIONS, DAY_1)
    assert members(con, "vip") == {"a": DAY_1, "b": DAY_1}
    assert (changes["vip"].size, changes["vip"].entered, changes["vip"].exited) == (2, 2, 0)
    assert changes["vip"].sample == ["a", "b"]
    assert (changes["churned"].size, changes["churned"].entered) == (0, 0)


def test_a_later_build_records_who_entered_and_who_exited_and_keeps_the_original_entry_time(con):
    con.execute("insert into models.vip values ('a', 10), ('b', 20)")
    apply_memberships(con, RELATIONS, DAY_1)
    con.execute("delete from models.vip where customer_id = 'a'")
    con.execute("insert into models.vip values ('c', 30)")
    changes = apply_memberships(con, RELATIONS, DAY_2)
    assert members(con, "vip") == {"b": DAY_1, "c": DAY_2}
    assert (changes["vip"].entered, changes["vip"].exited) == (1, 1)
    history = con.execute(f"select customer_id, entered_at, exited_at from {HISTORY} order by all").fetchall()
    assert history == [("a", DAY_1, DAY_2), ("b", DAY_1, None), ("c", DAY_2, None)]


def test_a_rerun_at_the_same_clock_changes_nothing(con):
    con.execute("insert into models.vip values ('a', 10)")
    apply_memberships(con, RELATIONS, DAY_1)
    changes = apply_memberships(con, RELATIONS, DAY_1)
    assert (changes["vip"].entered, changes["vip"].exited) == (0, 0)
    assert con.execute(f"select count(*) from {HISTORY}").fetchone() == (1,)


def test_a_customer_who_leaves_and_comes_back_has_two_spells(con):
    con.execute("insert into models.vip values ('a', 10)")
    apply_memberships(con, RELATIONS, DAY_1)
    con.execute("delete from models.vip")
    apply_memberships(con, RELATIONS, DAY_2)
    con.execute("insert into models.vip values ('a', 10)")
    day_3 = DAY_2 + timedelta(days=1)
    apply_memberships(con, RELATIONS, day_3)
    spells = con.execute(f"select entered_at, exited_at from {HISTORY} order by entered_at").fetchall()
    assert spells == [(DAY_1, DAY_2), (day_3, None)]


def test_a_segment_removed_from_the_project_closes_its_members(con):
    con.execute("insert into models.churned values ('z')")
    apply_memberships(con, RELATIONS, DAY_1)
    apply_memberships(con, {"vip": "models.vip"}, DAY_2)
    assert members(con, "churned") == {}
    assert con.execute(f"select exited_at from {HISTORY} where customer_id = 'z'").fetchone() == (DAY_2,)


def test_a_segment_without_customer_id_is_refused_by_name_and_nothing_is_written(con):
    con.execute("create table models.bad (email varchar)")
    with pytest.raises(SegmentModelError, match="segment bad .* has no customer_id column"):
        apply_memberships(con, {**RELATIONS, "bad": "models.bad"}, DAY_1)
    assert con.execute(f"select count(*) from {HISTORY}").fetchone() == (0,)
