"""Planning: what the model says now against what the destination last confirmed, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from reverse_etl.destinations import DESTINATIONS
from reverse_etl.plan import SyncRefused, plan_sync
from reverse_etl.state import STATE, RunFolder, ensure_tables
from tests.reverse_etl.conftest import build_warehouse, expected_members, people, set_segment, spec_for

NOW = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def con(tmp_path):
    path = tmp_path / "w.duckdb"
    build_warehouse(path, people())
    set_segment(path, {f"cus_{n:04d}": float(n) for n in range(10)})
    with duckdb.connect(str(path)) as connection:
        ensure_tables(connection)
        yield connection


def plan(con, spec, **options):
    return plan_sync(con, spec, DESTINATIONS[spec.destination], None, NOW, **options)


def confirm_everything(con, spec):
    """Pretend the destination confirmed the plan just made (what record() does after a clean delivery)."""
    con.execute(f"delete from {STATE} where sync_name = ?", [spec.name])
    con.execute(f"insert into {STATE} select ?, key, row_hash, payload, null, ? from sync_desired", [spec.name, NOW])


def replace_segment(con, members: dict[str, float]):
    con.execute("delete from segments.test_segment")
    con.executemany("insert into segments.test_segment values (?, ?, ?, ?)",
                    [(cid, score, f"call:{cid}", f"Call {cid}") for cid, score in members.items()])


def test_a_first_plan_adds_every_consenting_member_with_an_email_and_counts_the_others(con):
    spec = spec_for("klaviyo_list")
    summary = plan(con, spec)
    members = [f"cus_{n:04d}" for n in range(10)]
    assert summary.adds == len(expected_members(members)) == 9  # cus_0006 unsubscribed
    assert (summary.changes, summary.removes, summary.skipped_no_consent) == (0, 0, 1)


def test_an_unchanged_model_plans_nothing(con):
    spec = spec_for("klaviyo_list")
    plan(con, spec)
    confirm_everything(con, spec)
    summary = plan(con, spec)
    assert summary.planned == 0 and summary.unchanged == 9


@pytest.mark.parametrize("mode, expected", [
    ("insert", (2, 0, 0)),
    ("upsert", (2, 1, 0)),
    ("mirror", (2, 1, 2)),
    # update-only: only people the destination knows (HubSpot contacts cus_0000-0004) are added
    ("update", (0, 1, 0)),
])
def test_each_mode_narrows_the_plan(con, mode, expected):
    spec = spec_for("hubspot_contacts", mode=mode, fields={"cdp_score": "score"})
    replace_segment(con, {f"cus_{n:04d}": float(n) for n in range(10)})
    plan(con, spec)
    confirm_everything(con, spec)
    members = {f"cus_{n:04d}": float(n) for n in range(2, 12)}
    members["cus_0005"] = 99.0
    replace_segment(con, members)
    summary = plan(con, spec, force=True)
    assert (summary.adds, summary.changes, summary.removes) == expected


def test_a_person_who_withdraws_consent_is_removed_from_a_marketing_list(con):
    spec = spec_for("klaviyo_list")
    plan(con, spec)
    confirm_everything(con, spec)
    con.execute("update marts.customer_profiles set email_consent = 'unsubscribed' where customer_id = 'cus_0003'")
    summary = plan(con, spec)
    assert (summary.adds, summary.changes, summary.removes) == (0, 0, 1)
    assert summary.samples["remove"][0]["key"] == "cus_0003"


def test_duplicate_or_null_keys_stop_the_sync_naming_the_column_and_values(con):
    con.execute("insert into segments.test_segment values ('cus_0001', 1, 'x', 'x'), (null, 0, 'y', 'y')")
    with pytest.raises(SyncRefused, match=r"key column customer_id of test_segment has 1 null and 1 duplicate "
                                          r"values \(e.g. cus_0001\)"):
        plan(con, spec_for("klaviyo_list"))


def test_a_run_changing_more_than_the_allowed_share_is_refused_unless_forced(con):
    spec = spec_for("klaviyo_list", max_change_share=0.3)
    plan(con, spec)
    confirm_everything(con, spec)
    replace_segment(con, {"cus_0000": 0.0, "cus_0001": 1.0})  # 7 of 9 members would go
    with pytest.raises(SyncRefused, match=r"remove 7 of the 9 rows .* --force"):
        plan(con, spec)
    assert plan(con, spec, force=True).removes == 7


def test_failing_identity_checks_refuse_the_sync(con):
    with pytest.raises(SyncRefused, match="identity health checks failing \\(largest_component_records\\)"):
        plan(con, spec_for("klaviyo_list"), failing_checks=("largest_component_records",))


def test_a_mode_the_destination_cannot_do_is_refused_with_the_fix(con):
    with pytest.raises(SyncRefused, match="mode mirror needs change, remove, which hubspot_tasks cannot do; fix: use "
                                          "mode insert"):
        plan(con, spec_for("hubspot_tasks", fields={"hs_task_subject": "task_subject"}, key="task_key"))


def test_a_missing_column_is_named(con):
    with pytest.raises(SyncRefused, match="has no column lifetime_value"):
        plan(con, spec_for("hubspot_contacts", fields={"cdp_ltv": "lifetime_value"}))


def test_a_planned_run_writes_its_plan_and_opens_its_run_row(con, isolated_cdp_home):
    spec = spec_for("klaviyo_list")
    run = RunFolder.new(spec.name, "run-1")
    plan_sync(con, spec, DESTINATIONS[spec.destination], run, NOW)
    assert con.execute(f"select count(*) from read_parquet('{run.plan}')").fetchone()[0] == 9
    assert con.execute("select status, adds from syncs.sync_runs where run_id = 'run-1'").fetchone() == ("planned", 9)
