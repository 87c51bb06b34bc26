-- The best customers still buying: lifetime revenue net of refunds in the top 5% of buyers (percent rank at
-- least 0.95, so a tie at the boundary is in) and an order within the last 365 days. Customers without orders
-- are never VIPs.
{%- set min_percent_rank = var('vip_min_revenue_percent_rank', 0.95) %}
{%- set max_days_since_order = var('vip_max_days_since_order', 365) %}

with buyers as (
    select
        customer_id,
        lifetime_revenue,
        orders_count,
        last_order_at,
        percent_rank() over (order by lifetime_revenue) as revenue_percent_rank
    from {{ ref('int_customer_orders') }}
    where orders_count > 0
)

select
    customer_id,
    cast(lifetime_revenue as decimal(18, 2)) as lifetime_revenue,
    cast(revenue_percent_rank as double precision) as revenue_percent_rank,
    cast(orders_count as integer) as orders_count,
    last_order_at
from buyers
where revenue_percent_rank >= {{ min_percent_rank }}
    and last_order_at >= {{ dbt.dateadd("day", -max_days_since_order, customer_360_as_of()) }}
