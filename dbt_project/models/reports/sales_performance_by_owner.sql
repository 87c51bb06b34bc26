-- One row per CRM pipeline and deal owner: deals, open, won and lost, win rate (won / closed), won amount,
-- and velocity (mean days from a deal's creation to its close, for closed deals). Archived deals excluded;
-- deals without an owner are grouped under a null owner.
with deals as (
    select
        deals.*,
        coalesce(stages.is_closed, false) as is_closed,
        coalesce(stages.is_closed, false) and coalesce(stages.probability, 0) >= 1 as is_won
    from {{ ref('stg_hubspot__deals') }} as deals
    left join {{ ref('stg_hubspot__deal_stages') }} as stages on deals.deal_stage_id = stages.deal_stage_id
    where not coalesce(deals.is_archived, false)
)

select
    deals.pipeline_id,
    deals.owner_id,
    nullif(trim(coalesce(owners.first_name, '') || ' ' || coalesce(owners.last_name, '')), '') as owner_name,
    cast(count(*) as integer) as deals_count,
    cast(sum(case when not is_closed then 1 else 0 end) as integer) as open_deals_count,
    cast(sum(case when is_won then 1 else 0 end) as integer) as won_deals_count,
    cast(sum(case when is_closed and not is_won then 1 else 0 end) as integer) as lost_deals_count,
    cast(
        sum(case when is_won then 1 else 0 end) * 1.0 / nullif(sum(case when is_closed then 1 else 0 end), 0)
        as double precision
    ) as win_rate,
    cast(sum(case when is_won then coalesce(amount, 0) else 0 end) as decimal(18, 2)) as won_amount,
    cast(
        avg(case when is_closed then {{ dbt.datediff("deals.created_at", "deals.closed_at", "second") }} / 86400.0 end)
        as double precision
    ) as mean_days_to_close
from deals
left join {{ ref('stg_hubspot__owners') }} as owners on deals.owner_id = owners.owner_id
group by deals.pipeline_id, deals.owner_id, owners.first_name, owners.last_name
