-- Customers with a deal in the CRM's trade-account pipeline that has not been declined (closed with win
-- probability 0): applicants, qualified and onboarded trade accounts. One row per customer, describing their
-- most advanced trade deal. The pipeline is named by id (var trade_pipeline_ids; the sandbox calls it `trade`).
{%- set trade_pipelines = var('trade_pipeline_ids', ['trade']) %}

with contacts as (
    select record_id as contact_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'hubspot' and record_type = 'contact'
),

deals as (
    select distinct
        contacts.customer_id,
        deals.deal_id,
        deals.amount,
        deals.owner_id,
        deals.created_at,
        stages.deal_stage_label,
        coalesce(stages.probability, 0) as probability,
        coalesce(stages.is_closed, false) as is_closed
    from {{ ref('stg_hubspot__deal_contacts') }} as deal_contacts
    inner join contacts on deal_contacts.contact_id = contacts.contact_id
    inner join {{ ref('stg_hubspot__deals') }} as deals on deal_contacts.deal_id = deals.deal_id
    left join {{ ref('stg_hubspot__deal_stages') }} as stages on deals.deal_stage_id = stages.deal_stage_id
    where not coalesce(deals.is_archived, false)
        and deals.pipeline_id in ({% for p in trade_pipelines %}'{{ p }}'{% if not loop.last %}, {% endif %}{% endfor %})
        and not (coalesce(stages.is_closed, false) and coalesce(stages.probability, 0) = 0)
),

ranked as (
    select
        *,
        count(*) over (partition by customer_id) as trade_deals_count,
        row_number() over (partition by customer_id order by probability desc, created_at desc, deal_id) as deal_rank
    from deals
)

select
    customer_id,
    deal_id as trade_deal_id,
    deal_stage_label as trade_stage,
    case when is_closed then 'onboarded' else 'in_pipeline' end as trade_status,
    cast(amount as decimal(18, 2)) as trade_deal_amount,
    owner_id as crm_owner_id,
    cast(trade_deals_count as integer) as trade_deals_count
from ranked
where deal_rank = 1
