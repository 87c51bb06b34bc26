-- One row per Meta campaign: spend, impressions and clicks (daily insights), the orders and net revenue
-- attributed to it, and return on ad spend (attributed net revenue / spend).
--
-- Attribution rule (last paid click, order level): an order belongs to the Meta campaign whose ad click
-- brought the visit the order was placed in, i.e. the click id (fbclid) on the order's landing page. The
-- click id is matched to a campaign through the analytics event that carried the same click id with
-- utm_source=facebook and the campaign's name in utm_campaign. Orders without a click id (in store, organic,
-- email) are attributed to no campaign; no view-through credit. Meta's own count of purchases is shown
-- beside it, for comparison.
with insights as (
    select
        campaign_id,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(purchases) as meta_reported_purchases,
        sum(leads) as meta_reported_leads
    from {{ ref('stg_meta__ad_insights') }}
    where date_day <= cast({{ customer_360_as_of() }} as date)
    group by campaign_id
),

clicks as (
    select fbclid, min(utm_campaign) as campaign_name
    from {{ ref('stg_mixpanel__events') }}
    where fbclid is not null and utm_source = 'facebook' and utm_campaign is not null
    group by fbclid
),

orders as (
    select
        order_id,
        net_revenue,
        {{ customer_360_url_parameter('landing_site', 'fbclid') }} as fbclid
    from {{ ref('int_orders_netted') }}
    where not is_cancelled and ordered_at <= {{ customer_360_as_of() }}
),

attributed as (
    select campaigns.campaign_id, count(*) as orders_count, sum(orders.net_revenue) as net_revenue
    from orders
    inner join clicks on orders.fbclid = clicks.fbclid
    inner join {{ ref('stg_meta__campaigns') }} as campaigns on clicks.campaign_name = campaigns.campaign_name
    group by campaigns.campaign_id
)

select
    campaigns.campaign_id,
    campaigns.campaign_name,
    campaigns.objective,
    cast(coalesce(insights.spend, 0) as decimal(18, 2)) as spend,
    cast(coalesce(insights.impressions, 0) as bigint) as impressions,
    cast(coalesce(insights.clicks, 0) as bigint) as clicks,
    cast(coalesce(insights.meta_reported_purchases, 0) as bigint) as meta_reported_purchases,
    cast(coalesce(insights.meta_reported_leads, 0) as bigint) as meta_reported_leads,
    cast(coalesce(attributed.orders_count, 0) as integer) as attributed_orders_count,
    cast(coalesce(attributed.net_revenue, 0) as decimal(18, 2)) as attributed_net_revenue,
    cast(attributed.net_revenue / nullif(insights.spend, 0) as double precision) as return_on_ad_spend
from {{ ref('stg_meta__campaigns') }} as campaigns
left join insights on campaigns.campaign_id = insights.campaign_id
left join attributed on campaigns.campaign_id = attributed.campaign_id
