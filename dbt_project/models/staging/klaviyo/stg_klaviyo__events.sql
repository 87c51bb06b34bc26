with source as (
    select * from {{ declared_source('klaviyo', 'events') }} as events
)

select
    id as event_id,
    attributes__uuid as event_uuid,
    relationships__profile__data__id as profile_id,
    relationships__metric__data__id as metric_id,
    cast(attributes__datetime as timestamptz) as occurred_at,
    -- Klaviyo names the sending campaign (or flow message) in $message; null for events not from a send
    nullif(json_extract_string(attributes__event_properties, '$."$message"'), '') as message_id,
    nullif(json_extract_string(attributes__event_properties, '$."$flow"'), '') as flow_id,
    attributes__event_properties as event_properties
from source
