with source as (
    select * from {{ declared_source('klaviyo', 'lists') }} as lists
)

select
    id as list_id,
    attributes__name as list_name,
    attributes__opt_in_process as opt_in_process,
    cast(attributes__created as timestamptz) as created_at,
    cast(attributes__updated as timestamptz) as updated_at
from source
