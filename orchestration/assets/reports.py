"""Headline figures of the report marts as markdown tables in Dagster, read after dbt built them."""

import duckdb
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset
from dagster_dbt import get_asset_key_for_model

from cdp.paths import warehouse_path
from orchestration.assets.dbt_models import cdp_dbt_models
from orchestration.instance import WAREHOUSE_POOL
from orchestration.metadata import markdown_table

REPORT_MODELS = ("revenue_by_channel_daily", "sales_funnel_by_stage", "sales_performance_by_owner",
                 "campaign_performance", "email_campaign_engagement", "cohort_retention_monthly")

HEADLINES = {
    "revenue_by_channel": """
        select channel, sum(orders_count) as orders, sum(net_revenue) as net_revenue
        from reports.revenue_by_channel_daily group by channel order by net_revenue desc""",
    "win_rate_by_pipeline": """
        select pipeline_id as pipeline, sum(deals_count) as deals, sum(won_deals_count) as won,
               round(sum(won_deals_count) / nullif(sum(won_deals_count) + sum(lost_deals_count), 0), 3) as win_rate,
               round(avg(mean_days_to_close), 1) as mean_days_to_close
        from reports.sales_performance_by_owner group by pipeline_id order by pipeline_id""",
    "return_on_ad_spend": """
        select campaign_name as campaign, spend, attributed_orders_count as orders, attributed_net_revenue as revenue,
               round(return_on_ad_spend, 2) as roas
        from reports.campaign_performance order by spend desc limit 10""",
    "latest_email_campaigns": """
        select campaign_name as campaign, recipients, round(open_rate, 3) as open_rate,
               round(click_rate, 3) as click_rate, round(unsubscribe_rate, 4) as unsubscribe_rate
        from reports.email_campaign_engagement order by sent_at desc nulls last limit 5""",
    "retention_by_month_since_first_order": """
        select months_since_first_order as month,
               round(sum(active_customers) / sum(cohort_size), 3) as retention
        from reports.cohort_retention_monthly where months_since_first_order <= 6
        group by months_since_first_order order by month""",
}


@asset(
    key=AssetKey(["reports", "report_headlines"]),
    deps=[get_asset_key_for_model([cdp_dbt_models], name) for name in REPORT_MODELS],
    group_name="reports",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description="Headline figures of the reports (revenue by channel, win rates, ROAS, email, retention).",
)
def report_headlines(context: AssetExecutionContext) -> MaterializeResult:
    con = duckdb.connect(str(warehouse_path()))
    try:
        metadata = {}
        for name, sql in HEADLINES.items():
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description]
            metadata[name] = MetadataValue.md(markdown_table(columns, cursor.fetchall()))
    finally:
        con.close()
    return MaterializeResult(metadata=metadata)
