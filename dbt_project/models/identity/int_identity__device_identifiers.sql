-- Identifiers of each Mixpanel device, from its events: the device id itself, the $user_id after login (the
-- shop customer id), the order ids of "Order Completed" events and fbclid click ids.
-- A device on which more than one user signs in is shared (a family tablet): it is attached to its main
-- user (most events) and only that user's events count, so it never glues two people together. Late events
-- need no special case: every build reads all events the export has delivered within its lookback.
{{ config(materialized='table') }}

with events as (
    select device_id, user_id, order_id, fbclid, event_name, event_at
    from {{ ref('stg_mixpanel__events') }}
    where device_id is not null
),

users as (
    select device_id, user_id, count(*) as n_events, min(event_at) as first_event_at
    from events
    where user_id is not null
    group by device_id, user_id
),

main_user as (
    select device_id, user_id, n_users
    from (
        select
            device_id,
            user_id,
            count(*) over (partition by device_id) as n_users,
            row_number() over (partition by device_id order by n_events desc, first_event_at, user_id) as rank
        from users
    ) as ranked
    where rank = 1
),

usable as (
    select
        events.*,
        coalesce(main_user.n_users, 0) > 1 as is_shared
    from events
    left join main_user on events.device_id = main_user.device_id
    where coalesce(main_user.n_users, 0) <= 1 or events.user_id = main_user.user_id
),

identifiers as (
    select device_id, is_shared, 'device_id' as id_type, device_id as written_value, event_at from usable
    union all
    select device_id, is_shared, 'shopify_customer_id', user_id, event_at from usable where user_id is not null
    union all
    select device_id, is_shared, 'shopify_order_id', order_id, event_at
    from usable where event_name = 'Order Completed' and order_id is not null
    union all
    select device_id, is_shared, 'fbclid', fbclid, event_at from usable where fbclid is not null
)

select
    device_id,
    id_type,
    written_value,
    bool_or(is_shared) as is_shared_device,
    min(event_at) as first_seen_at,
    max(event_at) as last_seen_at
from identifiers
group by device_id, id_type, written_value
