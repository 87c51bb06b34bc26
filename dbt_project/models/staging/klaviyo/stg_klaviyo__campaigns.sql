with source as (
    select * from {{ declared_source('klaviyo', 'campaigns') }} as campaigns
)

select
    id as campaign_id,
    attributes__name as campaign_name,
    attributes__status as status,
    cast(attributes__archived as boolean) as is_archived,
    cast(attributes__scheduled_at as timestamptz) as scheduled_at,
    cast(attributes__send_time as timestamptz) as sent_at,
    cast(attributes__created_at as timestamptz) as created_at,
    cast(attributes__updated_at as timestamptz) as updated_at
from source
