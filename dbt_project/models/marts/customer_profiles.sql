-- The customer 360: one row per customer of identity resolution, with contact data, consent, CRM, orders,
-- RFM, behaviour, interests, email engagement and acquisition. Every customer in customer_source_records
-- has exactly one profile, with zeros (not nulls) for counts of things they never did.
with customers as (
    select
        customer_id,
        count(*) as source_records_count
    from {{ ref('customer_source_records') }}
    group by customer_id
),

contact_points as (select * from {{ ref('int_customer_contact_points') }}),
consent as (select * from {{ ref('int_customer_consent') }}),
crm as (select * from {{ ref('int_customer_crm') }}),
orders as (select * from {{ ref('int_customer_orders') }}),
rfm as (select * from {{ ref('int_customer_rfm_scored') }}),
behaviour as (select * from {{ ref('int_customer_behaviour') }}),
interests as (select * from {{ ref('int_customer_interests') }}),
engagement as (select * from {{ ref('int_customer_email_engagement') }}),
acquisition as (select * from {{ ref('int_customer_acquisition') }})

select
    cast(customers.customer_id as varchar) as customer_id,

    -- contact data
    cast(contact_points.best_name as varchar) as best_name,
    cast(contact_points.first_name as varchar) as first_name,
    cast(contact_points.last_name as varchar) as last_name,
    cast(contact_points.emails[1] as varchar) as primary_email,
    cast(contact_points.emails as varchar[]) as emails,
    cast(contact_points.phones[1] as varchar) as primary_phone,
    cast(contact_points.phones as varchar[]) as phones,

    -- consent: unknown when no system recorded a decision
    cast(coalesce(consent.email_consent, 'unknown') as varchar) as email_consent,
    cast(consent.email_consent_source as varchar) as email_consent_source,
    cast(consent.email_consent_at as timestamp with time zone) as email_consent_at,
    cast(coalesce(consent.sms_consent, 'unknown') as varchar) as sms_consent,
    cast(consent.sms_consent_source as varchar) as sms_consent_source,
    cast(consent.sms_consent_at as timestamp with time zone) as sms_consent_at,

    -- CRM
    cast(coalesce(crm.crm_contacts_count, 0) as integer) as crm_contacts_count,
    cast(crm.crm_owner_id as varchar) as crm_owner_id,
    cast(crm.crm_owner_name as varchar) as crm_owner_name,
    cast(crm.crm_owner_email as varchar) as crm_owner_email,
    cast(crm.lifecycle_stage as varchar) as lifecycle_stage,
    cast(coalesce(crm.open_deals_count, 0) as integer) as open_deals_count,
    cast(coalesce(crm.open_deals_amount, 0) as decimal(18, 2)) as open_deals_amount,
    cast(coalesce(crm.won_deals_count, 0) as integer) as won_deals_count,
    cast(coalesce(crm.won_deals_amount, 0) as decimal(18, 2)) as won_deals_amount,

    -- orders, net of refunds
    cast(coalesce(orders.orders_count, 0) as integer) as orders_count,
    cast(coalesce(orders.online_orders_count, 0) as integer) as online_orders_count,
    cast(coalesce(orders.in_store_orders_count, 0) as integer) as in_store_orders_count,
    cast(orders.first_order_at as timestamp with time zone) as first_order_at,
    cast(orders.last_order_at as timestamp with time zone) as last_order_at,
    cast(coalesce(orders.gross_revenue, 0) as decimal(18, 2)) as gross_revenue,
    cast(coalesce(orders.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
    cast(coalesce(orders.lifetime_revenue, 0) as decimal(18, 2)) as lifetime_revenue,
    cast(coalesce(orders.online_revenue, 0) as decimal(18, 2)) as online_revenue,
    cast(coalesce(orders.in_store_revenue, 0) as decimal(18, 2)) as in_store_revenue,
    cast(orders.average_order_value as decimal(18, 2)) as average_order_value,
    cast(orders.currency as varchar) as currency,

    -- RFM (null for customers who never ordered)
    cast(rfm.recency_days as integer) as recency_days,
    cast(rfm.frequency as integer) as frequency,
    cast(rfm.monetary as decimal(18, 2)) as monetary,
    cast(rfm.recency_score as integer) as recency_score,
    cast(rfm.frequency_score as integer) as frequency_score,
    cast(rfm.monetary_score as integer) as monetary_score,
    cast(rfm.rfm_cell as varchar) as rfm_cell,

    -- behaviour
    cast(coalesce(behaviour.sessions_count, 0) as integer) as sessions_count,
    cast(coalesce(behaviour.sessions_last_30_days, 0) as integer) as sessions_last_30_days,
    cast(coalesce(behaviour.product_views_count, 0) as integer) as product_views_count,
    cast(coalesce(behaviour.add_to_cart_count, 0) as integer) as add_to_cart_count,
    cast(coalesce(behaviour.carts_count, 0) as integer) as carts_count,
    cast(coalesce(behaviour.devices_count, 0) as integer) as devices_count,
    cast(behaviour.platforms as varchar[]) as platforms,
    cast(behaviour.last_seen_at as timestamp with time zone) as last_seen_in_app_at,
    -- the latest sign of life anywhere: an analytics event, an order, an email opened or clicked
    cast(
        greatest(
            behaviour.last_seen_at, orders.last_order_at,
            engagement.last_email_opened_at, engagement.last_email_clicked_at
        ) as timestamp with time zone
    ) as last_seen_at,

    -- interests
    cast(interests.top_interest_1 as varchar) as top_interest_1,
    cast(interests.top_interest_2 as varchar) as top_interest_2,
    cast(interests.top_interest_3 as varchar) as top_interest_3,

    -- email engagement
    cast(coalesce(engagement.emails_received_count, 0) as integer) as emails_received_count,
    cast(coalesce(engagement.emails_opened_count, 0) as integer) as emails_opened_count,
    cast(coalesce(engagement.emails_clicked_count, 0) as integer) as emails_clicked_count,
    cast(coalesce(engagement.unsubscribes_count, 0) as integer) as email_unsubscribes_count,
    cast(engagement.email_open_rate as double precision) as email_open_rate,
    cast(engagement.email_click_rate as double precision) as email_click_rate,
    cast(engagement.last_email_opened_at as timestamp with time zone) as last_email_opened_at,

    -- acquisition (first touch)
    cast(acquisition.acquisition_source as varchar) as acquisition_source,
    cast(acquisition.acquisition_medium as varchar) as acquisition_medium,
    cast(acquisition.acquisition_campaign as varchar) as acquisition_campaign,
    cast(acquisition.acquisition_touch as varchar) as acquisition_touch,
    cast(acquisition.acquired_at as timestamp with time zone) as acquired_at,

    -- predictions (orchestration/assets/predictions.py; null before a model could be trained)
    cast(predictions.purchase_probability as double precision) as purchase_probability,
    cast(predictions.purchase_decile as integer) as purchase_decile,
    cast(predictions.churn_probability as double precision) as churn_probability,
    cast(predictions.churn_decile as integer) as churn_decile,
    cast(predictions.scored_at as timestamp with time zone) as predictions_scored_at,

    cast(customers.source_records_count as integer) as source_records_count,
    {{ customer_360_as_of() }} as profile_as_of
from customers
left join contact_points on customers.customer_id = contact_points.customer_id
left join consent on customers.customer_id = consent.customer_id
left join crm on customers.customer_id = crm.customer_id
left join orders on customers.customer_id = orders.customer_id
left join rfm on customers.customer_id = rfm.customer_id
left join behaviour on customers.customer_id = behaviour.customer_id
left join interests on customers.customer_id = interests.customer_id
left join engagement on customers.customer_id = engagement.customer_id
left join acquisition on customers.customer_id = acquisition.customer_id
left join {{ source('predictions', 'customer_predictions') }} as predictions
    on customers.customer_id = predictions.customer_id
