"""Meta custom audience syncs against the sandbox: members hashed by Meta's rules, only changes sent, a full
resync replaces the audience, and throttling storms lose nothing."""

from __future__ import annotations

import math

from reverse_etl.hashing import meta_hash
from tests.reverse_etl.conftest import expected_members, people, set_segment, spec_for, sync

SEGMENT = {f"cus_{n:04d}": float(n) for n in range(24)}
BY_ID = {p.customer_id: p for p in people()}


def audience_emails(sandbox, name: str = "Test segment") -> list[str]:
    audiences = [a for a in sandbox.state("meta")["audiences"] if a["name"] == name]
    assert len(audiences) == 1, f"expected one audience named {name!r}"
    return sorted(row.get("EMAIL") or "" for row in audiences[0]["rows"])


def expected_hashes(members) -> list[str]:
    # Members need consent and an email or a phone (everyone here has a phone).
    return sorted(meta_hash("EMAIL", BY_ID[cid].email) for cid in expected_members(members, needs_email=False))


def test_the_audience_holds_each_consenting_member_once_hashed_by_metas_rules(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    _, delivered, recorded = sync(spec_for("meta_custom_audience"), warehouse)
    assert recorded.status == "succeeded"
    assert audience_emails(sandbox) == expected_hashes(SEGMENT)
    # a hash, never the address itself
    assert all(len(value) in (0, 64) for value in audience_emails(sandbox))


def test_k_changes_cost_at_most_ceil_k_over_batch_requests_per_kind_and_nothing_when_unchanged(
        sandbox, warehouse, monkeypatch):
    monkeypatch.setattr("reverse_etl.destinations.meta.MetaCustomAudience.batch_sizes",
                        {"add": 5, "change": 5, "remove": 5})
    set_segment(warehouse, SEGMENT)
    spec = spec_for("meta_custom_audience")
    sync(spec, warehouse)
    sandbox.reset_requests()
    planned, _, _ = sync(spec, warehouse)
    assert planned.planned == 0 and sandbox.count("meta") == 0

    moved = {cid: score for cid, score in SEGMENT.items() if cid not in {f"cus_{n:04d}" for n in range(7)}}
    moved.update({f"cus_{n:04d}": 0.0 for n in range(30, 38)})
    set_segment(warehouse, moved)
    planned, _, recorded = sync(spec, warehouse)
    writes = sandbox.writes("meta")
    users = {method: n for (method, route), n in writes.items() if route.endswith("/users")}
    assert users.get("POST", 0) <= math.ceil(planned.adds / 5)
    assert users.get("DELETE", 0) <= math.ceil(planned.removes / 5)
    assert audience_emails(sandbox) == expected_hashes(moved)


def test_a_changed_email_replaces_the_members_old_values(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("meta_custom_audience")
    sync(spec, warehouse)
    import duckdb

    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.customer_profiles set primary_email = 'new.address@example.com'"
                    " where customer_id = 'cus_0002'")
    planned, _, _ = sync(spec, warehouse)
    assert planned.changes == 1
    hashes = audience_emails(sandbox)
    assert meta_hash("EMAIL", "new.address@example.com") in hashes
    assert meta_hash("EMAIL", "person2@example.com") not in hashes
    assert len(hashes) == len(expected_hashes(SEGMENT))


def test_a_full_resync_replaces_the_audience_including_members_added_elsewhere(sandbox, warehouse):
    set_segment(warehouse, SEGMENT)
    spec = spec_for("meta_custom_audience")
    sync(spec, warehouse)
    set_segment(warehouse, {cid: s for cid, s in SEGMENT.items() if cid < "cus_0010"})
    planned, _, recorded = sync(spec, warehouse, full_resync=True)
    assert recorded.status == "succeeded"
    assert any(route.endswith("/usersreplace") for _, route in sandbox.writes("meta"))
    assert audience_emails(sandbox) == expected_hashes({cid for cid in SEGMENT if cid < "cus_0010"})


def test_a_throttling_storm_and_server_errors_lose_nothing(sandbox, warehouse, monkeypatch):
    monkeypatch.setattr("reverse_etl.destinations.meta.MetaCustomAudience.batch_sizes",
                        {"add": 4, "change": 4, "remove": 4})
    set_segment(warehouse, SEGMENT)
    sandbox.fault(vendor="meta", kind="throttle", path="*/users", code=80003, times=4)
    sandbox.fault(vendor="meta", kind="error", path="*/users", status=503, skip=1, times=2)
    _, delivered, recorded = sync(spec_for("meta_custom_audience"), warehouse)
    assert recorded.status == "succeeded" and delivered.retries >= 2
    assert audience_emails(sandbox) == expected_hashes(SEGMENT)
