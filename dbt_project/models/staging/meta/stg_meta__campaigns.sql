with source as (
    select * from {{ declared_source('meta', 'campaigns') }} as campaigns
)

select
    cast(id as varchar) as campaign_id,
    name as campaign_name,
    status,
    objective,
    cast(created_time as timestamptz) as created_at,
    cast(updated_time as timestamptz) as updated_at
from source
