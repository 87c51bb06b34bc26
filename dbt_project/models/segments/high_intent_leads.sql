-- Customers who viewed the pricing or design consultation pages at least N times (default 2) in the 14 days
-- up to the world clock: people weighing a big purchase, for the sales team to call. One row per member with
-- the evidence, the CRM owner to call them (null when they are not yet a CRM contact) and the call task.
{%- set min_views = var('high_intent_min_page_views', 2) %}
{%- set window_days = var('high_intent_window_days', 14) %}

with devices as (
    select record_id as device_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'mixpanel' and record_type = 'device'
),

intent_views as (
    select
        devices.customer_id,
        count(*) as intent_page_views,
        max(events.event_at) as last_intent_view_at
    from {{ ref('stg_mixpanel__events') }} as events
    inner join devices on events.device_id = devices.device_id
    where events.event_name = 'Page Viewed'
        and (events.current_url like '%/consultation%' or events.current_url like '%/pricing%')
        and events.event_at >= {{ dbt.dateadd("day", -window_days, customer_360_as_of()) }}
        and events.event_at <= {{ customer_360_as_of() }}
    group by devices.customer_id
)

select
    intent_views.customer_id,
    cast(intent_views.intent_page_views as integer) as intent_page_views_14_days,
    intent_views.last_intent_view_at,
    crm.crm_owner_id,
    crm.crm_owner_email,
    cast(coalesce(crm.open_deals_count, 0) as integer) as open_deals_count,
    -- The call task for the owner (hubspot_tasks sync): at most one per customer and week of interest, so a
    -- lead still browsing next week gets a new call, and one seen again this week does not get a second.
    'call:' || intent_views.customer_id || ':'
        || cast(cast({{ dbt.date_trunc('week', 'intent_views.last_intent_view_at') }} as date) as varchar)
        as call_task_key,
    'Call: viewed pricing or consultation ' || cast(intent_views.intent_page_views as varchar) || ' times'
        as call_task_subject,
    'Viewed the pricing or design consultation pages ' || cast(intent_views.intent_page_views as varchar)
        || ' times in the last 14 days (last on '
        || cast(cast(intent_views.last_intent_view_at as date) as varchar) || ').' as call_task_body
from intent_views
left join {{ ref('int_customer_crm') }} as crm on intent_views.customer_id = crm.customer_id
where intent_views.intent_page_views >= {{ min_views }}
