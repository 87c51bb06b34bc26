"""customer_profiles on the tiny world, built through the whole asset graph: the reconciliations a user of
the customer 360 relies on, each checked against the loaded source tables rather than the models' own logic.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from cdp import clock, paths

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def warehouse(refreshed_home):
    con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
    yield con
    con.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_every_customer_of_identity_resolution_has_exactly_one_profile(warehouse):
    customers = {r[0] for r in rows(warehouse, "select distinct customer_id from marts.customer_source_records")}
    profiles = [r[0] for r in rows(warehouse, "select customer_id from marts.customer_profiles")]
    assert len(profiles) == len(set(profiles)), "a customer has more than one profile"
    assert set(profiles) == customers
    assert customers, "the world produced no customers"


def test_every_profile_carries_the_latest_scores_of_its_customer(warehouse):
    mismatched = rows(warehouse, """
        select count(*) from marts.customer_profiles p
        full join predictions.customer_predictions s using (customer_id)
        where p.customer_id is null or s.customer_id is null
           or p.purchase_probability is distinct from s.purchase_probability
           or p.churn_decile is distinct from s.churn_decile""")[0][0]
    assert mismatched == 0
    scored = rows(warehouse, "select count(purchase_probability) from marts.customer_profiles")[0][0]
    assert scored > 0, "the tiny world should train the purchase model, or this test proves nothing"


def test_lifetime_revenue_adds_up_to_the_net_revenue_of_the_orders_attributed_to_customers(warehouse):
    # Independently of the models: order totals minus money refunded, for the orders identity resolution
    # placed with a customer, cancelled orders excluded.
    [(expected,)] = rows(warehouse, """
        with attributed as (
            select cast(record_id as varchar) as order_id
            from marts.customer_source_records where source = 'shopify' and record_type = 'order'
        ),
        refunded as (
            select cast(order_id as varchar) as order_id, sum(cast(amount as decimal(18, 2))) as amount
            from shopify.orders__refunds__transactions where kind = 'refund' group by 1
        )
        select sum(cast(o.total_price as decimal(18, 2)) - coalesce(r.amount, 0))
        from shopify.orders as o
        inner join attributed as a on cast(o.id as varchar) = a.order_id
        left join refunded as r on cast(o.id as varchar) = r.order_id
        where o.cancelled_at is null
    """)
    [(profiles_total, refunded_total)] = rows(
        warehouse, "select sum(lifetime_revenue), sum(refunded_amount) from marts.customer_profiles"
    )
    assert expected > 0
    assert refunded_total > 0, "the tiny world should hold refunds, or this test proves nothing about them"
    assert profiles_total == Decimal(expected)


def test_orders_online_and_in_store_match_the_shops_channels(warehouse):
    [(online, in_store)] = rows(warehouse, """
        select
            count(*) filter (where o.source_name in ('web', 'iphone', 'android')),
            count(*) filter (where o.source_name = 'pos')
        from shopify.orders as o
        inner join marts.customer_source_records as r
            on r.source = 'shopify' and r.record_type = 'order' and r.record_id = cast(o.id as varchar)
        where o.cancelled_at is null
    """)
    [(profile_online, profile_in_store)] = rows(
        warehouse, "select sum(online_orders_count), sum(in_store_orders_count) from marts.customer_profiles"
    )
    assert (profile_online, profile_in_store) == (online, in_store)
    assert in_store > 0 and online > 0


def consent_evidence(con) -> dict[str, set[str]]:
    """Every customer's email consent decisions as the sources state them (subscribed / unsubscribed)."""
    evidence: dict[str, set[str]] = {}
    for customer_id, decision in rows(con, """
        select r.customer_id, c.email_marketing_consent__state
        from shopify.customers as c
        inner join marts.customer_source_records as r
            on r.source = 'shopify' and r.record_type = 'customer' and r.record_id = cast(c.id as varchar)
        where c.email_marketing_consent__state in ('subscribed', 'unsubscribed')
        union all
        select r.customer_id, lower(p.attributes__subscriptions__email__marketing__consent)
        from klaviyo.profiles as p
        inner join marts.customer_source_records as r
            on r.source = 'klaviyo' and r.record_type = 'profile' and r.record_id = p.id
        where p.attributes__subscriptions__email__marketing__consent in ('SUBSCRIBED', 'UNSUBSCRIBED')
        union all
        select r.customer_id, 'unsubscribed'
        from hubspot.contacts as h
        inner join marts.customer_source_records as r
            on r.source = 'hubspot' and r.record_type = 'contact' and r.record_id = h.id
        where h.properties__hs_email_optout = 'true'
    """):
        evidence.setdefault(customer_id, set()).add(decision)
    return evidence


def test_email_consent_follows_the_sources_decisions(warehouse):
    evidence = consent_evidence(warehouse)
    consent = {c: (state, source) for c, state, source in rows(
        warehouse, "select customer_id, email_consent, email_consent_source from marts.customer_profiles"
    )}
    only_unsubscribed = [c for c, d in evidence.items() if d == {"unsubscribed"}]
    only_subscribed = [c for c, d in evidence.items() if d == {"subscribed"}]
    assert only_unsubscribed and only_subscribed, "the tiny world should hold both decisions"
    assert all(consent[c][0] == "unsubscribed" for c in only_unsubscribed)
    assert all(consent[c][0] == "subscribed" for c in only_subscribed)
    # no system recorded a decision: unknown, with no source, never a guess
    undecided = set(consent) - set(evidence)
    assert undecided
    assert {consent[c] for c in undecided} == {("unknown", None)}


def test_rfm_cells_are_three_scores_from_one_to_five_for_buyers_only(warehouse):
    cells = rows(warehouse, "select orders_count, rfm_cell, recency_days from marts.customer_profiles")
    buyer_cells = [cell for n, cell, _ in cells if n > 0]
    assert buyer_cells and all(len(cell) == 3 and set(cell) <= set("12345") for cell in buyer_cells)
    assert all(cell is None for n, cell, _ in cells if n == 0)
    assert all(days >= 0 for n, _, days in cells if n > 0), "an order after the world clock"


def test_time_relative_figures_are_measured_from_the_world_clock(warehouse):
    [(profile_as_of, last_seen)] = rows(
        warehouse, "select min(profile_as_of), max(last_seen_at) from marts.customer_profiles"
    )
    assert profile_as_of == clock.as_of()
    assert last_seen <= clock.as_of()
