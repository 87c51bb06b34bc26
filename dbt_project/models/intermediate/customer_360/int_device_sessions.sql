-- One row per session of a Mixpanel device: a session ends after more than 30 minutes without an event on
-- that device (the common analytics default). Exactly 30 minutes apart is still the same session.
{% set session_gap_seconds = 30 * 60 %}

with events as (
    select insert_id, device_id, event_at, event_name, mp_lib
    from {{ ref('stg_mixpanel__events') }}
    where device_id is not null
),

gaps as (
    select
        *,
        lag(event_at) over (partition by device_id order by event_at, insert_id) as previous_event_at
    from events
),

starts as (
    select
        *,
        case
            when previous_event_at is null then 1
            when {{ dbt.datediff("previous_event_at", "event_at", "second") }} > {{ session_gap_seconds }} then 1
            else 0
        end as is_session_start
    from gaps
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by device_id order by event_at, insert_id rows between unbounded preceding and current row
        ) as session_number
    from starts
)

select
    device_id || ':' || cast(session_number as varchar) as session_id,
    device_id,
    cast(session_number as integer) as session_number,
    min(mp_lib) as platform,
    min(event_at) as started_at,
    max(event_at) as ended_at,
    count(*) as events_count,
    sum(case when event_name = 'Product Viewed' then 1 else 0 end) as product_views_count,
    sum(case when event_name = 'Product Added' then 1 else 0 end) as add_to_cart_count
from numbered
group by device_id, session_number
