"""Faults during delivery: lost answers, storms, a vendor that stays down, and a kill mid-sync. After a rerun
the destination equals the intended state, nothing is duplicated, and every failure is logged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb

from cdp.paths import PROJECT_ROOT, syncs_dir
from tests.reverse_etl.conftest import email_of, expected_members, set_segment, spec_for, sync
from tests.reverse_etl.test_sync_klaviyo import emails, list_members
from tests.reverse_etl.test_sync_meta import audience_emails, expected_hashes

SEGMENT = {f"cus_{n:04d}": float(n) for n in range(24)}


def test_a_list_write_whose_answer_is_lost_is_sent_again_without_duplicates(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    sandbox.fault(vendor="klaviyo", kind="drop", path="/api/lists/*/relationships/profiles*", method="POST", times=1)
    sandbox.fault(vendor="klaviyo", kind="throttle", path="/api/profile-bulk-import-jobs*", method="POST", times=3,
                  retry_after=0.1)
    _, delivered, recorded = sync(spec_for("klaviyo_list"), warehouse)
    assert recorded.status == "succeeded" and delivered.retries >= 4
    state = sandbox.state("klaviyo")
    [members] = [entry["profile_ids"] for entry in state["lists"] if entry["name"] == "Test segment"]
    assert len(members) == len(set(members)) == len(expected_members(SEGMENT))
    assert list_members(sandbox, "Test segment") == emails(expected_members(SEGMENT))


def test_a_vendor_that_stays_down_fails_the_run_logs_every_row_and_alerts(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("hubspot_contacts", mode="upsert", fields={"cdp_score": "score"})
    sandbox.fault(vendor="hubspot", kind="error", path="/crm/v3/objects/contacts/batch/upsert", status=503, times=0)
    planned, delivered, recorded = sync(spec, warehouse)
    assert recorded.status == "failed" and "503" in delivered.error
    with duckdb.connect(str(warehouse)) as con:
        logged, = con.execute("select count(*) from syncs.sync_row_results where status = 'failed'").fetchone()
        error, = con.execute("select error from syncs.sync_runs").fetchone()
    assert logged == planned.adds and "503" in error
    sandbox.clear_faults()
    planned_again, _, recorded = sync(spec, warehouse)
    assert planned_again.adds == planned.adds and recorded.status == "succeeded"


def test_a_failed_run_posts_an_alert_to_the_webhook(sandbox, warehouse):
    from reverse_etl.destinations.webhook import send_alert

    assert send_alert("Sync x failed: 3 rows", {"sync": "x"})
    deliveries = sandbox.state("webhook")["deliveries"]
    assert deliveries[-1]["path"].endswith("alerts") and deliveries[-1]["body"]["text"] == "Sync x failed: 3 rows"


def test_webhook_batches_carry_an_idempotency_key_that_survives_a_lost_answer(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    sandbox.fault(vendor="webhook", kind="drop", times=1)
    spec = spec_for("webhook", mode="mirror", target="segments/test", fields={"score": "score"})
    _, _, recorded = sync(spec, warehouse)
    assert recorded.status == "succeeded"
    deliveries = [d for d in sandbox.state("webhook")["deliveries"] if d["path"].endswith("segments/test")]
    keys = [d["idempotency_key"] for d in deliveries]
    assert len(set(keys)) == 1 and len(keys) == 2  # the lost answer's batch came again, with the same key
    assert sorted(row["key"] for row in deliveries[0]["body"]["rows"]) == sorted(SEGMENT)


KILLED_RUN = """
import sys
from reverse_etl.destinations.meta import MetaCustomAudience
MetaCustomAudience.batch_sizes = {"add": 4, "change": 4, "remove": 4}
from reverse_etl.engine import run_sync
from tests.reverse_etl.conftest import spec_for
run_sync(spec_for("meta_custom_audience"), "killed-run", sys.argv[1])
"""


def test_a_sync_killed_mid_delivery_is_completed_by_the_next_run_with_no_duplicate(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("meta_custom_audience")
    # The third batch hangs: by then two batches are journaled, and the kill lands mid-delivery.
    sandbox.fault(vendor="meta", kind="slow", path="*/users", skip=2, times=1, seconds=60)
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(warehouse)], cwd=PROJECT_ROOT,
                             env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    journal = syncs_dir() / spec.name / "killed-run" / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 2):
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(journal.read_text().splitlines()) == 2, "the kill should land after two batches"
    sandbox.clear_faults()

    planned, _, recorded = sync(spec, warehouse)
    assert planned.adds == len(expected_members(SEGMENT, needs_email=False)) - 8  # two batches were confirmed
    assert recorded.status == "succeeded"
    assert audience_emails(sandbox) == expected_hashes(SEGMENT)
    with duckdb.connect(str(warehouse)) as con:
        runs = dict(con.execute("select run_id, status from syncs.sync_runs").fetchall())
    assert runs["killed-run"] == "failed"  # recorded as interrupted, its two batches confirmed
    assert email_of("cus_0000")
