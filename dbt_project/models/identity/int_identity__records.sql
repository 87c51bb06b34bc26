-- The identity graph's nodes: one row per entity record, exactly the kinds the ground truth lists, with the
-- vendor's record id as served. A device's life is the span of its events.
{{ config(materialized='table') }}

select 'hubspot' as source, 'contact' as record_type, contact_id as record_id, created_at, updated_at
from {{ ref('stg_hubspot__contacts') }}
union all
select 'shopify', 'customer', cast(customer_id as varchar), created_at, updated_at
from {{ ref('stg_shopify__customers') }}
union all
select 'shopify', 'order', cast(order_id as varchar), created_at, updated_at
from {{ ref('stg_shopify__orders') }}
union all
select 'klaviyo', 'profile', profile_id, created_at, updated_at
from {{ ref('stg_klaviyo__profiles') }}
union all
select 'meta', 'lead', lead_id, created_at, created_at
from {{ ref('stg_meta__leads') }}
union all
select 'mixpanel', 'device', device_id, min(event_at), max(event_at)
from {{ ref('stg_mixpanel__events') }}
where device_id is not null
group by device_id
