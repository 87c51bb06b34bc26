with source as (
    select * from {{ declared_source('meta', 'insights') }} as insights
),

actions as (
    select
        *,
        -- one number per action type of interest; null when Meta reported none
        list_sum([
            cast(a ->> 'value' as double) for a in cast(actions as json[]) if a ->> 'action_type' = 'purchase'
        ]) as purchase_actions,
        list_sum([
            cast(a ->> 'value' as double) for a in cast(actions as json[])
            if a ->> 'action_type' = 'offsite_conversion.fb_pixel_purchase'
        ]) as pixel_purchase_actions,
        list_sum([
            cast(a ->> 'value' as double) for a in cast(actions as json[]) if a ->> 'action_type' = 'lead'
        ]) as lead_actions,
        list_sum([
            cast(a ->> 'value' as double) for a in cast(actions as json[])
            if a ->> 'action_type' = 'onsite_conversion.lead_grouped'
        ]) as grouped_lead_actions
    from source
)

select
    concat(cast(campaign_id as varchar), ':', cast(cast(date_start as date) as varchar)) as insight_id,
    cast(campaign_id as varchar) as campaign_id,
    campaign_name,
    cast(date_start as date) as date_day,
    cast(spend as decimal(18, 2)) as spend,
    cast(impressions as bigint) as impressions,
    cast(clicks as bigint) as clicks,
    -- Meta counts the same conversion under several action types: take one, never their sum
    cast(coalesce(purchase_actions, pixel_purchase_actions, 0) as bigint) as purchases,
    cast(coalesce(lead_actions, grouped_lead_actions, 0) as bigint) as leads,
    cast(actions as json) as actions
from actions
