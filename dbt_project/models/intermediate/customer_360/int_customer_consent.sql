-- One row per customer with at least one authoritative marketing-consent change, per channel (email, sms):
-- the latest change wins, whichever system recorded it.
--
-- Authoritative changes: Shopify's consent objects in state subscribed or unsubscribed (at
-- consent_updated_at); Klaviyo's subscriptions SUBSCRIBED or UNSUBSCRIBED (at consent_timestamp); HubSpot's
-- hs_email_optout = true, an unsubscribe from email (at the contact's lastmodifieddate, the only time HubSpot
-- gives it); a Klaviyo profile suppressed while subscribed (can_receive_email_marketing = false), an unsubscribe
-- at the profile's last change. Never-subscribed, pending (double opt-in not confirmed) and optout = false are not decisions by
-- the person, so they never override one. At the same instant an unsubscribe wins: when in doubt, don't send.
with records as (
    select * from {{ ref('customer_source_records') }}
),

shop_customers as (
    select records.customer_id, customers.*
    from {{ ref('stg_shopify__customers') }} as customers
    inner join records
        on records.source = 'shopify' and records.record_type = 'customer'
        and records.record_id = cast(customers.customer_id as varchar)
),

profiles as (
    select records.customer_id, profiles.*
    from {{ ref('stg_klaviyo__profiles') }} as profiles
    inner join records
        on records.source = 'klaviyo' and records.record_type = 'profile' and records.record_id = profiles.profile_id
),

contacts as (
    select records.customer_id, contacts.*
    from {{ ref('stg_hubspot__contacts') }} as contacts
    inner join records
        on records.source = 'hubspot' and records.record_type = 'contact' and records.record_id = contacts.contact_id
),

changes as (
    select
        customer_id,
        'email' as channel,
        'shopify' as consent_source,
        case lower(email_marketing_consent_state)
            when 'subscribed' then 'subscribed'
            when 'unsubscribed' then 'unsubscribed'
        end as consent,
        email_marketing_consent_updated_at as changed_at
    from shop_customers

    union all

    select
        customer_id,
        'sms',
        'shopify',
        case lower(sms_marketing_consent_state)
            when 'subscribed' then 'subscribed'
            when 'unsubscribed' then 'unsubscribed'
        end,
        sms_marketing_consent_updated_at
    from shop_customers

    union all

    -- A suppressed profile (a bounce, a spam complaint, a manual suppression) keeps its SUBSCRIBED consent in
    -- Klaviyo but can no longer receive email marketing: that is the latest decision, as of the profile's change.
    select
        customer_id,
        'email',
        'klaviyo',
        case
            when upper(email_marketing_consent) = 'SUBSCRIBED' and can_receive_email_marketing = false
                then 'unsubscribed'
            when upper(email_marketing_consent) = 'SUBSCRIBED' then 'subscribed'
            when upper(email_marketing_consent) = 'UNSUBSCRIBED' then 'unsubscribed'
        end,
        case
            when upper(email_marketing_consent) = 'SUBSCRIBED' and can_receive_email_marketing = false
                then updated_at
            else email_marketing_consent_at
        end
    from profiles

    union all

    select
        customer_id,
        'sms',
        'klaviyo',
        case upper(sms_marketing_consent)
            when 'SUBSCRIBED' then 'subscribed'
            when 'UNSUBSCRIBED' then 'unsubscribed'
        end,
        sms_marketing_consent_at
    from profiles

    union all

    select
        customer_id,
        'email',
        'hubspot',
        case when is_email_opted_out then 'unsubscribed' end,
        updated_at
    from contacts
),

latest as (
    select
        *,
        row_number() over (
            partition by customer_id, channel
            order by
                changed_at desc,
                case when consent = 'unsubscribed' then 0 else 1 end,
                -- then the system that sends the messages, the shop, the CRM
                case consent_source when 'klaviyo' then 1 when 'shopify' then 2 else 3 end
        ) as recency_rank
    from changes
    where consent is not null and changed_at is not null
)

select
    customer_id,
    max(case when channel = 'email' then consent end) as email_consent,
    max(case when channel = 'email' then consent_source end) as email_consent_source,
    max(case when channel = 'email' then changed_at end) as email_consent_at,
    max(case when channel = 'sms' then consent end) as sms_consent,
    max(case when channel = 'sms' then consent_source end) as sms_consent_source,
    max(case when channel = 'sms' then changed_at end) as sms_consent_at
from latest
where recency_rank = 1
group by customer_id
