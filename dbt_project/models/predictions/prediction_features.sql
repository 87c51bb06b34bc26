-- One row per customer and cut-off: the features the propensity models read, computed only from event-time
-- facts at or before the cut-off (orders as placed then, refunds and cancellations that had happened by then,
-- analytics events, email events). Nothing mutable is read in its current state: an order cancelled after
-- the cut-off still counts as placed at it, and consent comes from the unsubscribe events' own timestamps.
-- The leakage test (tests/predictions) deletes every fact later than a cut-off and gets identical rows.
with cutoffs as (
    select * from {{ ref('prediction_cutoffs') }}
),

owners as (
    select source, record_type, record_id, customer_id from {{ ref('customer_source_records') }}
),

orders as (
    select
        owners.customer_id,
        cast(orders.order_id as varchar) as order_id,
        orders.created_at as ordered_at,
        orders.cancelled_at,
        orders.channel,
        orders.total_price
    from {{ ref('stg_shopify__orders') }} as orders
    inner join owners
        on owners.source = 'shopify' and owners.record_type = 'order'
        and owners.record_id = cast(orders.order_id as varchar)
),

-- money returned, with the time it was returned (the refund's creation)
refunds as (
    select
        cast(refunds.order_id as varchar) as order_id,
        refunds.refunded_at,
        transactions.amount
    from {{ ref('stg_shopify__refund_transactions') }} as transactions
    inner join {{ ref('stg_shopify__refunds') }} as refunds on transactions.refund_id = refunds.refund_id
    where transactions.kind = 'refund'
),

refunds_at_cutoff as (
    select cutoffs.cutoff_index, refunds.order_id, sum(refunds.amount) as refunded_amount
    from refunds
    inner join cutoffs on refunds.refunded_at <= cutoffs.cutoff_at
    group by cutoffs.cutoff_index, refunds.order_id
),

-- an order as it stood at each cut-off: placed by then, not yet cancelled by then, refunds made by then
orders_at_cutoff as (
    select
        cutoffs.cutoff_index,
        cutoffs.cutoff_at,
        orders.customer_id,
        orders.order_id,
        orders.ordered_at,
        orders.channel,
        orders.total_price - coalesce(refunds.refunded_amount, 0) as net_revenue
    from orders
    inner join cutoffs on orders.ordered_at <= cutoffs.cutoff_at
    left join refunds_at_cutoff as refunds
        on refunds.cutoff_index = cutoffs.cutoff_index and refunds.order_id = orders.order_id
    where orders.cancelled_at is null or orders.cancelled_at > cutoffs.cutoff_at
),

order_features as (
    select
        cutoff_index,
        customer_id,
        count(*) as orders_count,
        count(*) filter (where ordered_at > cutoff_at - interval 30 day) as orders_last_30_days,
        count(*) filter (where ordered_at > cutoff_at - interval 90 day) as orders_last_90_days,
        count(*) filter (where ordered_at > cutoff_at - interval 180 day) as orders_last_180_days,
        count(*) filter (where ordered_at > cutoff_at - interval 365 day) as orders_last_365_days,
        count(*) filter (where channel in ('web', 'app')) as online_orders_count,
        sum(net_revenue) as net_revenue,
        sum(net_revenue) filter (where ordered_at > cutoff_at - interval 180 day) as net_revenue_last_180_days,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from orders_at_cutoff
    group by cutoff_index, customer_id
),

analytics_events as (
    select owners.customer_id, events.event_name, events.event_at
    from {{ ref('stg_mixpanel__events') }} as events
    inner join owners
        on owners.source = 'mixpanel' and owners.record_type = 'device' and owners.record_id = events.device_id
),

behaviour_features as (
    select
        cutoffs.cutoff_index,
        events.customer_id,
        count(*) filter (where events.event_at > cutoffs.cutoff_at - interval 30 day) as events_last_30_days,
        count(*) filter (where events.event_at > cutoffs.cutoff_at - interval 90 day) as events_last_90_days,
        count(distinct cast(events.event_at as date))
            filter (where events.event_at > cutoffs.cutoff_at - interval 90 day) as active_days_last_90_days,
        count(*) filter (
            where events.event_name = 'Product Viewed' and events.event_at > cutoffs.cutoff_at - interval 30 day
        ) as product_views_last_30_days,
        count(*) filter (
            where events.event_name = 'Product Added' and events.event_at > cutoffs.cutoff_at - interval 30 day
        ) as add_to_cart_last_30_days,
        min(events.event_at) as first_event_at,
        max(events.event_at) as last_event_at
    from analytics_events as events
    inner join cutoffs on events.event_at <= cutoffs.cutoff_at
    group by cutoffs.cutoff_index, events.customer_id
),

email_events as (
    select owners.customer_id, metrics.metric_name, events.occurred_at
    from {{ ref('stg_klaviyo__events') }} as events
    inner join {{ ref('stg_klaviyo__metrics') }} as metrics on events.metric_id = metrics.metric_id
    inner join owners
        on owners.source = 'klaviyo' and owners.record_type = 'profile' and owners.record_id = events.profile_id
),

email_features as (
    select
        cutoffs.cutoff_index,
        events.customer_id,
        count(*) filter (
            where events.metric_name = 'Received Email' and events.occurred_at > cutoffs.cutoff_at - interval 90 day
        ) as emails_received_last_90_days,
        count(*) filter (
            where events.metric_name = 'Opened Email' and events.occurred_at > cutoffs.cutoff_at - interval 90 day
        ) as emails_opened_last_90_days,
        count(*) filter (
            where events.metric_name = 'Clicked Email' and events.occurred_at > cutoffs.cutoff_at - interval 90 day
        ) as emails_clicked_last_90_days,
        max(events.occurred_at) filter (where events.metric_name in ('Opened Email', 'Clicked Email'))
            as last_email_engaged_at,
        -- consent as of the cut-off, from the event's own time rather than today's profile state
        bool_or(events.metric_name = 'Unsubscribed') as unsubscribed_from_email,
        min(events.occurred_at) as first_email_event_at
    from email_events as events
    inner join cutoffs on events.occurred_at <= cutoffs.cutoff_at
    group by cutoffs.cutoff_index, events.customer_id
),

-- who existed at each cut-off: any fact about them at or before it
known as (
    select cutoff_index, customer_id from order_features
    union
    select cutoff_index, customer_id from behaviour_features
    union
    select cutoff_index, customer_id from email_features
)

select
    cast(known.customer_id as varchar) as customer_id,
    cutoffs.cutoff_index,
    cutoffs.cutoff_at,
    cast(coalesce(o.orders_count, 0) as integer) as orders_count,
    cast(coalesce(o.orders_last_30_days, 0) as integer) as orders_last_30_days,
    cast(coalesce(o.orders_last_90_days, 0) as integer) as orders_last_90_days,
    cast(coalesce(o.orders_last_180_days, 0) as integer) as orders_last_180_days,
    cast(coalesce(o.orders_last_365_days, 0) as integer) as orders_last_365_days,
    cast(coalesce(o.online_orders_count, 0) as integer) as online_orders_count,
    cast(coalesce(o.net_revenue, 0) as double precision) as net_revenue,
    cast(coalesce(o.net_revenue_last_180_days, 0) as double precision) as net_revenue_last_180_days,
    cast(o.net_revenue / o.orders_count as double precision) as average_order_value,
    -- days, fractional: recency and tenure are measured from the cut-off, never from now
    cast(date_diff('second', o.last_order_at, cutoffs.cutoff_at) / 86400.0 as double precision)
        as days_since_last_order,
    cast(date_diff('second', o.first_order_at, cutoffs.cutoff_at) / 86400.0 as double precision)
        as days_since_first_order,
    cast(
        case when o.orders_count > 1
            then date_diff('second', o.first_order_at, o.last_order_at) / 86400.0 / (o.orders_count - 1)
        end as double precision
    ) as mean_days_between_orders,
    cast(coalesce(b.events_last_30_days, 0) as integer) as events_last_30_days,
    cast(coalesce(b.events_last_90_days, 0) as integer) as events_last_90_days,
    cast(coalesce(b.active_days_last_90_days, 0) as integer) as active_days_last_90_days,
    cast(coalesce(b.product_views_last_30_days, 0) as integer) as product_views_last_30_days,
    cast(coalesce(b.add_to_cart_last_30_days, 0) as integer) as add_to_cart_last_30_days,
    cast(date_diff('second', b.last_event_at, cutoffs.cutoff_at) / 86400.0 as double precision)
        as days_since_last_event,
    cast(coalesce(e.emails_received_last_90_days, 0) as integer) as emails_received_last_90_days,
    cast(coalesce(e.emails_opened_last_90_days, 0) as integer) as emails_opened_last_90_days,
    cast(coalesce(e.emails_clicked_last_90_days, 0) as integer) as emails_clicked_last_90_days,
    cast(date_diff('second', e.last_email_engaged_at, cutoffs.cutoff_at) / 86400.0 as double precision)
        as days_since_last_email_engagement,
    coalesce(e.unsubscribed_from_email, false) as unsubscribed_from_email,
    cast(
        date_diff('second', least(o.first_order_at, b.first_event_at, e.first_email_event_at), cutoffs.cutoff_at)
        / 86400.0 as double precision
    ) as tenure_days
from known
inner join cutoffs on known.cutoff_index = cutoffs.cutoff_index
left join order_features as o on known.cutoff_index = o.cutoff_index and known.customer_id = o.customer_id
left join behaviour_features as b on known.cutoff_index = b.cutoff_index and known.customer_id = b.customer_id
left join email_features as e on known.cutoff_index = e.cutoff_index and known.customer_id = e.customer_id
