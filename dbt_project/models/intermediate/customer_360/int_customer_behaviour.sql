-- One row per customer with at least one Mixpanel device: sessions, product views, carts, last seen,
-- devices and platforms. A device counts for the one customer identity resolution gave it.
with devices as (
    select record_id as device_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'mixpanel' and record_type = 'device'
),

sessions as (
    select devices.customer_id, sessions.*
    from {{ ref('int_device_sessions') }} as sessions
    inner join devices on sessions.device_id = devices.device_id
),

events as (
    select devices.customer_id, events.*
    from {{ ref('stg_mixpanel__events') }} as events
    inner join devices on events.device_id = devices.device_id
),

session_totals as (
    select
        customer_id,
        count(*) as sessions_count,
        sum(
            case when started_at >= {{ dbt.dateadd("day", -30, customer_360_as_of()) }} then 1 else 0 end
        ) as sessions_last_30_days,
        sum(product_views_count) as product_views_count,
        sum(add_to_cart_count) as add_to_cart_count,
        max(ended_at) as last_seen_at,
        count(distinct device_id) as devices_count
    from sessions
    group by customer_id
),

carts as (
    select customer_id, count(distinct cart_id) as carts_count
    from events
    where event_name = 'Product Added' and cart_id is not null
    group by customer_id
),

platforms as (
    select customer_id, {{ customer_360_list_agg("platform", "platform") }} as platforms
    from (select distinct customer_id, platform from sessions) as distinct_platforms
    group by customer_id
)

select
    session_totals.customer_id,
    session_totals.sessions_count,
    session_totals.sessions_last_30_days,
    session_totals.product_views_count,
    session_totals.add_to_cart_count,
    coalesce(carts.carts_count, 0) as carts_count,
    session_totals.last_seen_at,
    session_totals.devices_count,
    platforms.platforms
from session_totals
left join carts on session_totals.customer_id = carts.customer_id
left join platforms on session_totals.customer_id = platforms.customer_id
