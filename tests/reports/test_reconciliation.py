"""The reports on the tiny world, built through the whole asset graph, reconciled with the loaded sources
(not with the models' own logic): what a sales or marketing lead relies on when reading them.
"""

from __future__ import annotations

import duckdb
import pytest

from cdp import paths

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def warehouse(refreshed_home):
    con = duckdb.connect(str(paths.warehouse_path()), read_only=True)
    yield con
    con.close()


def one(con, sql: str):
    [(value,)] = con.execute(sql).fetchall()
    return value


def test_revenue_by_channel_sums_to_the_shops_net_order_revenue(warehouse):
    # Order totals minus refund transactions of kind refund, cancelled orders excluded: from the raw tables.
    expected = one(warehouse, """
        with refunded as (
            select order_id, sum(cast(amount as decimal(18, 2))) as amount
            from shopify.orders__refunds__transactions where kind = 'refund' group by 1
        )
        select sum(cast(o.total_price as decimal(18, 2)) - coalesce(r.amount, 0))
        from shopify.orders o left join refunded r on o.id = r.order_id
        where o.cancelled_at is null""")
    assert expected > 0
    assert one(warehouse, "select sum(net_revenue) from reports.revenue_by_channel_daily") == expected


def test_revenue_by_channel_counts_every_placed_order_once_in_its_channel(warehouse):
    by_source = dict(warehouse.execute("""
        select case source_name when 'web' then 'web' when 'pos' then 'pos'
                                when 'iphone' then 'app' when 'android' then 'app' else 'other' end, count(*)
        from shopify.orders where cancelled_at is null group by 1""").fetchall())
    by_report = dict(warehouse.execute(
        "select channel, sum(orders_count) from reports.revenue_by_channel_daily group by 1").fetchall())
    assert by_report == by_source
    assert {"web", "app", "pos"} <= set(by_report)


def test_funnel_counts_every_unarchived_deal_once_in_its_current_stage(warehouse):
    by_stage = dict(warehouse.execute("""
        select properties__dealstage, count(*) from hubspot.deals
        where not coalesce(archived, false) group by 1""").fetchall())
    by_report = dict(warehouse.execute(
        "select deal_stage_id, deals_in_stage from reports.sales_funnel_by_stage where deals_in_stage > 0").fetchall())
    assert by_report == by_stage


def test_every_deal_reaches_the_first_stage_and_the_funnel_never_widens(warehouse):
    rows = warehouse.execute("""
        with totals as (
            select pipeline_id, sum(deals_in_stage) as deals from reports.sales_funnel_by_stage group by 1
        )
        select f.pipeline_id, f.deals_reached, t.deals
        from reports.sales_funnel_by_stage f join totals t using (pipeline_id)
        where not f.is_closed_stage order by f.pipeline_id, f.display_order""").fetchall()
    by_pipeline: dict[str, list[tuple[int, int]]] = {}
    for pipeline, reached, deals in rows:
        by_pipeline.setdefault(pipeline, []).append((reached, deals))
    for pipeline, steps in by_pipeline.items():
        first_reached, deals = steps[0]
        assert first_reached == deals, f"{pipeline}: the first stage must count every deal"
        reached = [r for r, _ in steps]
        assert reached == sorted(reached, reverse=True), f"{pipeline}: a later stage reached by more deals"


def test_owner_performance_adds_up_to_the_crm_won_deals(warehouse):
    won = one(warehouse, """
        select count(*) from hubspot.deals d
        join hubspot.pipelines__stages s on s.id = d.properties__dealstage
        where not coalesce(d.archived, false) and cast(s.metadata__is_closed as boolean)
          and cast(s.metadata__probability as double) >= 1""")
    assert won > 0
    assert one(warehouse, "select sum(won_deals_count) from reports.sales_performance_by_owner") == won


def test_attributed_campaign_revenue_never_exceeds_the_revenue_of_orders_with_a_click_id(warehouse):
    attributed = one(warehouse, "select sum(attributed_net_revenue) from reports.campaign_performance")
    clicked = one(warehouse, """
        select coalesce(sum(n.net_revenue), 0) from intermediate.int_orders_netted n
        where n.landing_site like '%fbclid=%' and not n.is_cancelled""")
    assert 0 < attributed <= clicked
    spend = one(warehouse, "select sum(spend) from reports.campaign_performance")
    raw_spend = one(warehouse, "select sum(cast(spend as decimal(18, 2))) from meta.insights")
    assert spend == raw_spend
