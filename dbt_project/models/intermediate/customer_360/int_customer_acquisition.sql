-- One row per customer with any first-touch evidence: where the customer first came from.
--
-- Rule: the earliest touch wins, among
--   1. the first event of each of the customer's analytics devices: its utm_source / utm_medium /
--      utm_campaign; a click id (fbclid) without UTM means facebook / paid_social; neither means direct;
--   2. each order: online, the utm_source (or fbclid) of the shop's landing_site, else direct; in store,
--      source showroom / medium offline;
--   3. each Meta lead-form submission: facebook / lead_ad;
--   4. each CRM contact's creation: hubspot / crm (the CRM in this stack has no lead-source property).
-- Touches at the same instant are ranked in that order: the more specific evidence first.
with records as (
    select * from {{ ref('customer_source_records') }}
),

device_first_events as (
    select
        records.customer_id,
        events.event_at,
        events.utm_source,
        events.utm_medium,
        events.utm_campaign,
        events.fbclid,
        row_number() over (partition by events.device_id order by events.event_at, events.insert_id) as event_rank
    from {{ ref('stg_mixpanel__events') }} as events
    inner join records
        on records.source = 'mixpanel' and records.record_type = 'device' and records.record_id = events.device_id
),

orders as (
    select
        *,
        {{ customer_360_url_parameter("landing_site", "utm_source") }} as landing_utm_source,
        {{ customer_360_url_parameter("landing_site", "utm_medium") }} as landing_utm_medium,
        {{ customer_360_url_parameter("landing_site", "utm_campaign") }} as landing_utm_campaign,
        {{ customer_360_url_parameter("landing_site", "fbclid") }} as landing_fbclid
    from {{ ref('int_orders_netted') }}
    where customer_id is not null
),

touches as (
    select
        customer_id,
        event_at as touched_at,
        1 as touch_priority,
        'analytics_first_event' as acquisition_touch,
        coalesce(utm_source, case when fbclid is not null then 'facebook' end, 'direct') as acquisition_source,
        coalesce(utm_medium, case when fbclid is not null then 'paid_social' end, 'none') as acquisition_medium,
        utm_campaign as acquisition_campaign
    from device_first_events
    where event_rank = 1

    union all

    select
        customer_id,
        ordered_at,
        2,
        case when is_in_store then 'store_order' else 'shop_landing_site' end,
        case
            when is_in_store then 'showroom'
            else coalesce(landing_utm_source, case when landing_fbclid is not null then 'facebook' end, 'direct')
        end,
        case
            when is_in_store then 'offline'
            else coalesce(landing_utm_medium, case when landing_fbclid is not null then 'paid_social' end, 'none')
        end,
        case when not is_in_store then landing_utm_campaign end
    from orders

    union all

    select records.customer_id, leads.created_at, 3, 'lead_form', 'facebook', 'lead_ad', leads.campaign_id
    from {{ ref('stg_meta__leads') }} as leads
    inner join records
        on records.source = 'meta' and records.record_type = 'lead' and records.record_id = leads.lead_id

    union all

    select records.customer_id, contacts.created_at, 4, 'crm_contact', 'hubspot', 'crm', cast(null as varchar)
    from {{ ref('stg_hubspot__contacts') }} as contacts
    inner join records
        on records.source = 'hubspot' and records.record_type = 'contact' and records.record_id = contacts.contact_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id order by touched_at, touch_priority, acquisition_source
        ) as touch_rank
    from touches
    where touched_at is not null
)

select
    customer_id,
    acquisition_source,
    acquisition_medium,
    acquisition_campaign,
    acquisition_touch,
    touched_at as acquired_at
from ranked
where touch_rank = 1
