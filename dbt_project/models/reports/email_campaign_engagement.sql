-- One row per Klaviyo campaign: recipients, unique opens and clicks (distinct profiles), unsubscribes
-- attributed to the campaign's message, and the rates over recipients (click-to-open over openers).
with events as (
    select events.message_id, events.profile_id, metrics.metric_name
    from {{ ref('stg_klaviyo__events') }} as events
    inner join {{ ref('stg_klaviyo__metrics') }} as metrics on events.metric_id = metrics.metric_id
    where events.message_id is not null and events.occurred_at <= {{ customer_360_as_of() }}
),

totals as (
    select
        message_id,
        count(distinct case when metric_name = 'Received Email' then profile_id end) as recipients,
        count(distinct case when metric_name = 'Opened Email' then profile_id end) as unique_opens,
        count(distinct case when metric_name = 'Clicked Email' then profile_id end) as unique_clicks,
        count(distinct case when metric_name = 'Unsubscribed' then profile_id end) as unsubscribes
    from events
    group by message_id
)

select
    campaigns.campaign_id,
    campaigns.campaign_name,
    campaigns.sent_at,
    cast(coalesce(totals.recipients, 0) as integer) as recipients,
    cast(coalesce(totals.unique_opens, 0) as integer) as unique_opens,
    cast(coalesce(totals.unique_clicks, 0) as integer) as unique_clicks,
    cast(coalesce(totals.unsubscribes, 0) as integer) as unsubscribes,
    cast(totals.unique_opens * 1.0 / nullif(totals.recipients, 0) as double precision) as open_rate,
    cast(totals.unique_clicks * 1.0 / nullif(totals.recipients, 0) as double precision) as click_rate,
    cast(totals.unique_clicks * 1.0 / nullif(totals.unique_opens, 0) as double precision) as click_to_open_rate,
    cast(totals.unsubscribes * 1.0 / nullif(totals.recipients, 0) as double precision) as unsubscribe_rate
from {{ ref('stg_klaviyo__campaigns') }} as campaigns
left join totals on campaigns.campaign_id = totals.message_id
