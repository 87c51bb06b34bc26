"""The identity traps the sandbox plants, one by one, on the tiny world after a full refresh: what the ground
truth says each shared device, junk value, family email and receipt address is, against the profiles built.
(The hand-made graph scenarios are in test_resolve.py; the rules themselves have dbt unit tests.)"""

from __future__ import annotations

import duckdb
import pytest

from cdp import paths

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def warehouse(refreshed_home):
    con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
    truth, identifiers = paths.sandbox_dir() / "ground_truth.parquet", paths.sandbox_dir() / "identifier_truth.parquet"
    con.execute(f"create temp view truth as select * from read_parquet('{truth}')")
    con.execute(f"""create temp view identifier_truth as
        select id_type, normalized_value as match_key, max(kind) as kind from read_parquet('{identifiers}')
        group by all""")
    # Every record carrying a value the truth classifies, with the value's kind, the record's person and profile.
    con.execute("""create temp view carriers as
        select k.kind, i.id_type, i.match_key, i.is_valid, t.person_id, t.shared, a.customer_id
        from identity.int_identity__record_identifiers i
        join identifier_truth k using (id_type, match_key)
        join truth t using (source, record_type, record_id)
        join marts.customer_source_records a using (source, record_type, record_id)""")
    con.execute("""create temp view profile_persons as
        select a.customer_id, t.person_id
        from marts.customer_source_records a join truth t using (source, record_type, record_id)
        where not t.shared""")
    yield con
    con.close()


def mixed_profiles(con, kind: str) -> list[tuple]:
    """Profiles holding a value of the kind whose own records (shared devices aside) are of several persons."""
    return con.execute("""select p.customer_id, list(distinct p.person_id) from profile_persons p
        where p.customer_id in (select customer_id from carriers where kind = ?)
        group by p.customer_id having count(distinct p.person_id) > 1""", [kind]).fetchall()


def test_the_world_plants_every_trap(warehouse):
    kinds = dict(warehouse.execute(
        "select kind, count(distinct match_key) from carriers where is_valid group by kind").fetchall())
    assert kinds.get("shared_device", 0) > 0 and kinds.get("junk", 0) > 0 and kinds.get("family_email", 0) > 0


def test_a_shared_device_joins_no_two_people(warehouse):
    assert mixed_profiles(warehouse, "shared_device") == []


def test_a_junk_value_links_nothing_and_is_blocked_with_its_reason(warehouse):
    linked = warehouse.execute("""select e.id_type, e.match_key from identity.int_identity__edges e
        join identifier_truth k using (id_type, match_key) where k.kind = 'junk'""").fetchall()
    assert linked == []
    # valid ones are blocked with a reason; invalid ones ('n/a' as an email) never become a match key
    unexplained = warehouse.execute("""select distinct c.id_type, c.match_key from carriers c
        left join identity.int_identity__blocked_values b using (id_type, match_key)
        where c.kind = 'junk' and c.is_valid and b.reason is null""").fetchall()
    assert unexplained == []


def test_a_family_email_joins_no_two_people(warehouse):
    assert mixed_profiles(warehouse, "family_email") == []


def test_a_receipt_address_links_nothing_and_shows_on_no_profile_by_default(warehouse):
    # var identity_receipt_addresses is `none`: the email on a guest order is neither a link nor listed
    receipts = warehouse.execute("""select count(*) from identity.int_identity__record_identifiers
        where rule = 'receipt_address'""").fetchone()[0]
    assert receipts > 0
    linked = warehouse.execute("select count(*) from identity.int_identity__edges where rule = 'receipt_address'")
    assert linked.fetchone()[0] == 0
    listed_from_receipts_only = warehouse.execute("""
        with carried as (
            select a.customer_id, i.id_type, i.id_value, bool_and(i.rule = 'receipt_address') as only_receipts
            from identity.int_identity__record_identifiers i
            join marts.customer_source_records a using (source, record_type, record_id)
            where i.is_valid
            group by all
        )
        select count(*) from marts.customer_identifiers join carried using (customer_id, id_type, id_value)
        where only_receipts""").fetchone()[0]
    assert listed_from_receipts_only == 0
