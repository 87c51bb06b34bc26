-- Traits and scores for the CRM: one row per customer who is a HubSpot contact, with the properties the sales
-- team sees on the contact record. Update-only (config in the YAML): the CRM's contacts are the sales team's
-- to create; the sync fills in what the warehouse knows about them.
with crm_contacts as (
    select distinct customer_id
    from {{ ref('customer_source_records') }}
    where source = 'hubspot' and record_type = 'contact'
)

select
    profiles.customer_id,
    coalesce(lifecycle.lifecycle_stage, 'prospect') as cdp_lifecycle_stage,
    round(profiles.lifetime_revenue, 2) as cdp_lifetime_revenue,
    profiles.orders_count as cdp_orders_count,
    profiles.rfm_cell as cdp_rfm_cell,
    profiles.top_interest_1 as cdp_top_interest,
    round(profiles.purchase_probability, 4) as cdp_purchase_probability,
    round(profiles.churn_probability, 4) as cdp_churn_probability
from {{ ref('customer_profiles') }} as profiles
inner join crm_contacts on profiles.customer_id = crm_contacts.customer_id
left join {{ ref('customer_lifecycle') }} as lifecycle on profiles.customer_id = lifecycle.customer_id
