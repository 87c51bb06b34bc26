-- One row per customer with at least one order: counts online and in store, first and last order, revenue
-- net of refunds. Cancelled orders count nowhere; a refunded order still counts as an order placed.
with orders as (
    select * from {{ ref('int_orders_netted') }}
    where customer_id is not null
),

placed as (
    select * from orders where not is_cancelled
)

select
    customers.customer_id,
    coalesce(totals.orders_count, 0) as orders_count,
    coalesce(totals.online_orders_count, 0) as online_orders_count,
    coalesce(totals.in_store_orders_count, 0) as in_store_orders_count,
    totals.first_order_at,
    totals.last_order_at,
    coalesce(totals.gross_revenue, 0) as gross_revenue,
    coalesce(totals.refunded_amount, 0) as refunded_amount,
    coalesce(totals.lifetime_revenue, 0) as lifetime_revenue,
    coalesce(totals.online_revenue, 0) as online_revenue,
    coalesce(totals.in_store_revenue, 0) as in_store_revenue,
    case when totals.orders_count > 0 then totals.lifetime_revenue / totals.orders_count end
        as average_order_value,
    -- revenue is summed in the orders' currency; no exchange rates exist, so a mix is flagged, not converted
    case when customers.currencies_count = 1 then customers.currency else 'mixed' end as currency
from (
    select customer_id, count(distinct currency) as currencies_count, min(currency) as currency
    from orders
    group by customer_id
) as customers
left join (
    select
        customer_id,
        count(*) as orders_count,
        sum(case when is_online then 1 else 0 end) as online_orders_count,
        sum(case when is_in_store then 1 else 0 end) as in_store_orders_count,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        sum(total_price) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as lifetime_revenue,
        sum(case when is_online then net_revenue else 0 end) as online_revenue,
        sum(case when is_in_store then net_revenue else 0 end) as in_store_revenue
    from placed
    group by customer_id
) as totals on customers.customer_id = totals.customer_id
