-- The deals live at HubSpot: archived and merged-away deals are left out.
select
    id as deal_id,
    properties__dealname as deal_name,
    {{ dbt.safe_cast("properties__amount", "decimal(18,2)") }} as amount,
    properties__dealstage as deal_stage_id,
    properties__pipeline as pipeline_id,
    properties__hubspot_owner_id as owner_id,
    {{ dbt.safe_cast("properties__closedate", "timestamptz") }} as closed_at,
    archived as is_archived,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ declared_source('hubspot', 'deals') }} as deals
where not coalesce(archived, false)
    and not exists (
        select 1 from {{ ref('stg_hubspot__merges') }} as merges
        where merges.object_type = 'deals' and merges.merged_id = deals.id
    )
    and not exists (
        select 1 from {{ ref('stg_hubspot__deleted_records') }} as gone
        where gone.object_type = 'deals' and gone.record_id = deals.id
    )
