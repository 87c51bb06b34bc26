with source as (
    select * from {{ declared_source('mixpanel', 'events') }} as events
)

select
    insert_id,
    event as event_name,
    cast("time" as timestamptz) as event_at,
    distinct_id,
    device_id,
    user_id,
    current_url,
    referrer,
    browser,
    os,
    mp_lib,
    utm_source,
    utm_medium,
    utm_campaign,
    fbclid,
    cast(product_id as varchar) as product_id,
    category,
    cast(price as decimal(18, 2)) as price,
    cast(order_id as varchar) as order_id,
    cast(cart_id as varchar) as cart_id,
    cast(properties as json) as properties
from source
