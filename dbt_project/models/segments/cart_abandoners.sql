-- Customers who added products to a cart in the 24 hours up to the world clock (a cart whose last add is
-- exactly 24 hours old still counts) and have not bought since: the cart has no Order Completed event and
-- the customer placed no order (web, app or in store) after the cart's last add. One row per customer,
-- describing their latest abandoned cart. Anonymous carts (a device identity resolution gave no customer)
-- cannot be reached and are not members.
{%- set window_hours = var('cart_abandonment_window_hours', 24) %}

with devices as (
    select record_id as device_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'mixpanel' and record_type = 'device'
),

events as (
    select devices.customer_id, events.*
    from {{ ref('stg_mixpanel__events') }} as events
    inner join devices on events.device_id = devices.device_id
    where events.event_at <= {{ customer_360_as_of() }}
),

carts as (
    select
        customer_id,
        cart_id,
        max(event_at) as last_added_at,
        count(*) as items_added,
        sum(coalesce(price, 0)) as cart_value
    from events
    where event_name = 'Product Added' and cart_id is not null
    group by customer_id, cart_id
),

completed_carts as (
    select distinct cart_id from events where event_name = 'Order Completed' and cart_id is not null
),

orders as (
    select customer_id, ordered_at
    from {{ ref('int_orders_netted') }}
    where customer_id is not null and not is_cancelled and ordered_at <= {{ customer_360_as_of() }}
),

abandoned as (
    select carts.*
    from carts
    where carts.last_added_at >= {{ dbt.dateadd("hour", -window_hours, customer_360_as_of()) }}
        and carts.cart_id not in (select cart_id from completed_carts)
        and not exists (
            select 1 from orders
            where orders.customer_id = carts.customer_id and orders.ordered_at > carts.last_added_at
        )
),

ranked as (
    select
        *,
        count(*) over (partition by customer_id) as abandoned_carts_count,
        row_number() over (partition by customer_id order by last_added_at desc, cart_id) as cart_rank
    from abandoned
)

select
    customer_id,
    cart_id as latest_cart_id,
    last_added_at,
    cast(items_added as integer) as items_added,
    cast(cart_value as decimal(18, 2)) as cart_value,
    cast(abandoned_carts_count as integer) as abandoned_carts_count
from ranked
where cart_rank = 1
