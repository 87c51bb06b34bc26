-- One row per customer with at least one Klaviyo event: emails received, opened, clicked, unsubscribes, and
-- unique open and click rates (distinct messages opened or clicked over distinct messages received).
with profiles as (
    select record_id as profile_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'klaviyo' and record_type = 'profile'
),

events as (
    select
        profiles.customer_id,
        metrics.metric_name,
        events.occurred_at,
        -- an event outside a campaign or flow is a message of its own
        coalesce(events.message_id, events.event_id) as message_key
    from {{ ref('stg_klaviyo__events') }} as events
    inner join {{ ref('stg_klaviyo__metrics') }} as metrics on events.metric_id = metrics.metric_id
    inner join profiles on events.profile_id = profiles.profile_id
),

totals as (
    select
        customer_id,
        sum(case when metric_name = 'Received Email' then 1 else 0 end) as emails_received_count,
        sum(case when metric_name = 'Opened Email' then 1 else 0 end) as emails_opened_count,
        sum(case when metric_name = 'Clicked Email' then 1 else 0 end) as emails_clicked_count,
        sum(case when metric_name = 'Unsubscribed' then 1 else 0 end) as unsubscribes_count,
        count(distinct case when metric_name = 'Received Email' then message_key end) as messages_received,
        count(distinct case when metric_name = 'Opened Email' then message_key end) as messages_opened,
        count(distinct case when metric_name = 'Clicked Email' then message_key end) as messages_clicked,
        max(case when metric_name = 'Opened Email' then occurred_at end) as last_email_opened_at,
        max(case when metric_name = 'Clicked Email' then occurred_at end) as last_email_clicked_at
    from events
    group by customer_id
)

select
    customer_id,
    emails_received_count,
    emails_opened_count,
    emails_clicked_count,
    unsubscribes_count,
    case when messages_received > 0 then cast(messages_opened as double precision) / messages_received end
        as email_open_rate,
    case when messages_received > 0 then cast(messages_clicked as double precision) / messages_received end
        as email_click_rate,
    last_email_opened_at,
    last_email_clicked_at
from totals
