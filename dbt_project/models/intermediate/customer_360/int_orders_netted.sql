-- One row per Shopify order (online, app and in store) with its refunds netted out, and the customer it
-- belongs to (null when identity resolution placed it with no customer).
with orders as (
    select * from {{ ref('stg_shopify__orders') }}
),

-- Money actually returned: the refund transactions of kind `refund` (Shopify also records voids and
-- failed attempts as transactions, which returned nothing).
refunds as (
    select
        order_id,
        sum(amount) as refunded_amount,
        count(distinct refund_id) as refunds_count
    from {{ ref('stg_shopify__refund_transactions') }}
    where kind = 'refund'
    group by order_id
),

order_owners as (
    select record_id as order_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'shopify' and record_type = 'order'
)

select
    cast(orders.order_id as varchar) as order_id,
    order_owners.customer_id,
    orders.channel,
    orders.channel in ('web', 'app') as is_online,
    orders.channel = 'pos' as is_in_store,
    orders.cancelled_at is not null as is_cancelled,
    orders.currency,
    orders.created_at as ordered_at,
    orders.landing_site,
    orders.total_price,
    coalesce(refunds.refunded_amount, 0) as refunded_amount,
    coalesce(refunds.refunds_count, 0) as refunds_count,
    -- a cancelled order brought no revenue, whatever its total said
    case
        when orders.cancelled_at is not null then 0
        else orders.total_price - coalesce(refunds.refunded_amount, 0)
    end as net_revenue
from orders
left join refunds on orders.order_id = refunds.order_id
left join order_owners on cast(orders.order_id as varchar) = order_owners.order_id
