-- One row per day and sales channel (web, app, pos; `other` for any other Shopify source): orders placed and
-- revenue net of refunds. Every order counts, whether or not identity resolution placed it with a customer,
-- so the report sums to the shop's net order revenue. A refund is counted on the day of its order (the
-- order's net revenue), not on the day the money went back; cancelled orders bring nothing.
select
    cast(ordered_at as date) as date_day,
    channel,
    cast(sum(case when not is_cancelled then 1 else 0 end) as integer) as orders_count,
    cast(sum(case when is_cancelled then 1 else 0 end) as integer) as cancelled_orders_count,
    cast(sum(case when not is_cancelled then total_price else 0 end) as decimal(18, 2)) as gross_revenue,
    cast(sum(case when not is_cancelled then refunded_amount else 0 end) as decimal(18, 2)) as refunded_amount,
    cast(sum(net_revenue) as decimal(18, 2)) as net_revenue,
    cast(count(distinct customer_id) as integer) as customers_count
from {{ ref('int_orders_netted') }}
where ordered_at <= {{ customer_360_as_of() }}
group by cast(ordered_at as date), channel
