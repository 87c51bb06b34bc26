with source as (
    select * from {{ declared_source('klaviyo', 'metrics') }} as metrics
)

select
    id as metric_id,
    attributes__name as metric_name,
    attributes__integration__name as integration_name,
    attributes__integration__category as integration_category,
    cast(attributes__created as timestamptz) as created_at,
    cast(attributes__updated as timestamptz) as updated_at
from source
