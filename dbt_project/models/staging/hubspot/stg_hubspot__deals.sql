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
