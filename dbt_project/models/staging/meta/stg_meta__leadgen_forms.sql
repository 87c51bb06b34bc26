with source as (
    select * from {{ declared_source('meta', 'leadgen_forms') }} as leadgen_forms
)

select
    cast(id as varchar) as form_id,
    name as form_name,
    status,
    cast(page_id as varchar) as page_id,
    cast(created_time as timestamptz) as created_at
from source
