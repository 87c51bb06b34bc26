-- One row per customer with an email consent decision or Klaviyo email activity: their email engagement
-- status over the 90 days up to the world clock. Not a segment itself: the email_* segments select one
-- status each. First match wins:
--   unsubscribed  email_consent is unsubscribed (the latest authoritative change, int_customer_consent)
--   engaged       subscribed and opened or clicked an email in the window
--   unengaged     subscribed, received at least N emails (default 3) in the window, opened and clicked none
--   null          anyone else (unknown consent, or too few emails to judge)
-- The window includes its first instant (exactly 90 days ago counts).
{%- set window_days = var('email_engagement_window_days', 90) %}
{%- set min_received = var('email_unengaged_min_received', 3) %}

with profiles as (
    select record_id as profile_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'klaviyo' and record_type = 'profile'
),

events as (
    select profiles.customer_id, metrics.metric_name, events.occurred_at
    from {{ ref('stg_klaviyo__events') }} as events
    inner join {{ ref('stg_klaviyo__metrics') }} as metrics on events.metric_id = metrics.metric_id
    inner join profiles on events.profile_id = profiles.profile_id
    where events.occurred_at >= {{ dbt.dateadd("day", -window_days, customer_360_as_of()) }}
        and events.occurred_at <= {{ customer_360_as_of() }}
),

activity as (
    select
        customer_id,
        sum(case when metric_name = 'Received Email' then 1 else 0 end) as received_count,
        sum(case when metric_name = 'Opened Email' then 1 else 0 end) as opened_count,
        sum(case when metric_name = 'Clicked Email' then 1 else 0 end) as clicked_count,
        max(case when metric_name in ('Opened Email', 'Clicked Email') then occurred_at end) as last_engaged_at
    from events
    group by customer_id
),

consent as (
    select customer_id, email_consent, email_consent_source, email_consent_at
    from {{ ref('int_customer_consent') }}
    where email_consent is not null
),

customers as (
    select customer_id from activity
    union
    select customer_id from consent
)

select
    customers.customer_id,
    case
        when consent.email_consent = 'unsubscribed' then 'unsubscribed'
        when consent.email_consent = 'subscribed' and coalesce(activity.opened_count + activity.clicked_count, 0) > 0
            then 'engaged'
        when consent.email_consent = 'subscribed' and coalesce(activity.received_count, 0) >= {{ min_received }}
            then 'unengaged'
    end as email_status,
    coalesce(consent.email_consent, 'unknown') as email_consent,
    consent.email_consent_source,
    consent.email_consent_at,
    cast(coalesce(activity.received_count, 0) as integer) as emails_received_90_days,
    cast(coalesce(activity.opened_count, 0) as integer) as emails_opened_90_days,
    cast(coalesce(activity.clicked_count, 0) as integer) as emails_clicked_90_days,
    activity.last_engaged_at
from customers
left join activity on customers.customer_id = activity.customer_id
left join consent on customers.customer_id = consent.customer_id
