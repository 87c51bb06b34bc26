-- One row per CRM pipeline stage: the deals in it now, the deals that reached it, and the conversion from
-- the stage before. HubSpot gives each deal's current stage only, so "reached" is read from it: a deal
-- reached every open stage up to its current one, a won deal reached them all, and a lost deal is counted
-- in the first stage only (where it was lost is unknown: the conservative reading). Archived deals excluded.
with stages as (
    select * from {{ ref('stg_hubspot__deal_stages') }}
),

deals as (
    select deals.deal_id, deals.pipeline_id, stages.display_order, stages.is_closed,
        coalesce(stages.probability, 0) as probability, deals.amount
    from {{ ref('stg_hubspot__deals') }} as deals
    inner join stages on deals.deal_stage_id = stages.deal_stage_id
    where not coalesce(deals.is_archived, false)
),

open_stages as (
    select *, row_number() over (partition by pipeline_id order by display_order) as funnel_step
    from stages
    where not coalesce(is_closed, false)
),

reached as (
    select
        open_stages.deal_stage_id,
        count(deals.deal_id) as deals_reached
    from open_stages
    left join deals
        on deals.pipeline_id = open_stages.pipeline_id
        and (
            (not deals.is_closed and deals.display_order >= open_stages.display_order)
            or (deals.is_closed and deals.probability >= 1)
            or (deals.is_closed and deals.probability < 1 and open_stages.funnel_step = 1)
        )
    group by open_stages.deal_stage_id
),

current_stage as (
    select
        stages.deal_stage_id,
        count(deals.deal_id) as deals_in_stage,
        sum(coalesce(deals.amount, 0)) as amount_in_stage
    from stages
    left join deals on deals.pipeline_id = stages.pipeline_id and deals.display_order = stages.display_order
    group by stages.deal_stage_id
)

select
    stages.pipeline_id,
    stages.pipeline_label,
    stages.deal_stage_id,
    stages.deal_stage_label,
    stages.display_order,
    coalesce(stages.is_closed, false) as is_closed_stage,
    cast(current_stage.deals_in_stage as integer) as deals_in_stage,
    cast(current_stage.amount_in_stage as decimal(18, 2)) as amount_in_stage,
    cast(reached.deals_reached as integer) as deals_reached,
    cast(
        reached.deals_reached * 1.0
        / nullif(lag(reached.deals_reached) over (partition by stages.pipeline_id order by stages.display_order), 0)
        as double precision
    ) as conversion_from_previous_stage
from stages
inner join current_stage on stages.deal_stage_id = current_stage.deal_stage_id
left join reached on stages.deal_stage_id = reached.deal_stage_id
