-- One row per customer interaction with a product, with its time: purchases (line items of placed orders,
-- online and in store), adds to cart and product views. The recommender reads it with its own cut-off, so a
-- backtest can train on the interactions before a date and test on the purchases after it.
with owners as (
    select source, record_type, record_id, customer_id from {{ ref('customer_source_records') }}
),

purchases as (
    select
        orders.customer_id,
        cast(line_items.product_id as varchar) as product_id,
        'purchase' as interaction,
        orders.ordered_at as occurred_at
    from {{ ref('int_orders_netted') }} as orders
    inner join {{ ref('stg_shopify__order_line_items') }} as line_items
        on orders.order_id = cast(line_items.order_id as varchar)
    where orders.customer_id is not null and not orders.is_cancelled and line_items.product_id is not null
),

browsing as (
    select
        owners.customer_id,
        events.product_id,
        case events.event_name when 'Product Added' then 'add_to_cart' else 'view' end as interaction,
        events.event_at as occurred_at
    from {{ ref('stg_mixpanel__events') }} as events
    inner join owners
        on owners.source = 'mixpanel' and owners.record_type = 'device' and owners.record_id = events.device_id
    where events.event_name in ('Product Viewed', 'Product Added') and events.product_id is not null
)

select cast(customer_id as varchar) as customer_id, product_id, interaction, occurred_at from purchases
union all
select cast(customer_id as varchar) as customer_id, product_id, interaction, occurred_at from browsing
