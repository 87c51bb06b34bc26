-- One row per customer with at least one (unarchived) HubSpot contact: owner, lifecycle stage and deals.
-- A customer can have several contacts (CRM duplicates): the owner comes from the most recently modified
-- contact that has one, the lifecycle stage is the most advanced of the contacts', and deals are counted
-- once however many of the customer's contacts they are associated with.
with contacts as (
    select records.customer_id, contacts.*
    from {{ ref('stg_hubspot__contacts') }} as contacts
    inner join {{ ref('customer_source_records') }} as records
        on records.source = 'hubspot' and records.record_type = 'contact' and records.record_id = contacts.contact_id
    where not coalesce(contacts.is_archived, false)
),

-- HubSpot's default lifecycle stages, in the order a person moves through them
staged as (
    select
        *,
        case lower(lifecycle_stage)
            when 'subscriber' then 1
            when 'lead' then 2
            when 'marketingqualifiedlead' then 3
            when 'salesqualifiedlead' then 4
            when 'opportunity' then 5
            when 'customer' then 6
            when 'evangelist' then 7
            when 'other' then 0
        end as stage_order,
        row_number() over (
            partition by customer_id order by case when owner_id is null then 1 else 0 end, updated_at desc, contact_id
        ) as owner_rank
    from contacts
),

stage_ranked as (
    select
        customer_id,
        lifecycle_stage,
        row_number() over (
            partition by customer_id order by coalesce(stage_order, -1) desc, updated_at desc, contact_id
        ) as stage_rank
    from staged
    where lifecycle_stage is not null
),

deals as (
    select distinct
        contacts.customer_id,
        deals.deal_id,
        deals.amount,
        coalesce(stages.is_closed, false) as is_closed,
        coalesce(stages.is_closed, false) and coalesce(stages.probability, 0) >= 1 as is_won
    from {{ ref('stg_hubspot__deal_contacts') }} as deal_contacts
    inner join contacts on deal_contacts.contact_id = contacts.contact_id
    inner join {{ ref('stg_hubspot__deals') }} as deals on deal_contacts.deal_id = deals.deal_id
    left join {{ ref('stg_hubspot__deal_stages') }} as stages on deals.deal_stage_id = stages.deal_stage_id
    where not coalesce(deals.is_archived, false)
),

deal_totals as (
    select
        customer_id,
        sum(case when not is_closed then 1 else 0 end) as open_deals_count,
        sum(case when not is_closed then coalesce(amount, 0) else 0 end) as open_deals_amount,
        sum(case when is_won then 1 else 0 end) as won_deals_count,
        sum(case when is_won then coalesce(amount, 0) else 0 end) as won_deals_amount
    from deals
    group by customer_id
)

select
    summary.customer_id,
    summary.crm_contacts_count,
    owners_picked.owner_id as crm_owner_id,
    nullif(trim(coalesce(owners.first_name, '') || ' ' || coalesce(owners.last_name, '')), '') as crm_owner_name,
    owners.email as crm_owner_email,
    stage_ranked.lifecycle_stage,
    coalesce(deal_totals.open_deals_count, 0) as open_deals_count,
    coalesce(deal_totals.open_deals_amount, 0) as open_deals_amount,
    coalesce(deal_totals.won_deals_count, 0) as won_deals_count,
    coalesce(deal_totals.won_deals_amount, 0) as won_deals_amount
from (
    select customer_id, count(*) as crm_contacts_count from staged group by customer_id
) as summary
left join staged as owners_picked
    on summary.customer_id = owners_picked.customer_id and owners_picked.owner_rank = 1
left join {{ ref('stg_hubspot__owners') }} as owners on owners_picked.owner_id = owners.owner_id
left join stage_ranked on summary.customer_id = stage_ranked.customer_id and stage_ranked.stage_rank = 1
left join deal_totals on summary.customer_id = deal_totals.customer_id
