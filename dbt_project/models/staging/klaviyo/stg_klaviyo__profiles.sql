-- The profiles live at Klaviyo: deleted ones (stg_klaviyo__deleted_records) are left out.
with source as (
    select * from {{ declared_source('klaviyo', 'profiles') }} as profiles
)

select
    id as profile_id,
    attributes__email as email,
    attributes__phone_number as phone_number,
    attributes__external_id as external_id,
    attributes__first_name as first_name,
    attributes__last_name as last_name,
    -- loyalty numbers are free text in Klaviyo's custom properties; keep them as written
    cast(json_extract_string(attributes__properties, '$.loyalty_number') as varchar) as loyalty_number,
    attributes__subscriptions__email__marketing__consent as email_marketing_consent,
    cast(attributes__subscriptions__email__marketing__can_receive_email_marketing as boolean)
        as can_receive_email_marketing,
    cast(attributes__subscriptions__email__marketing__consent_timestamp as timestamptz)
        as email_marketing_consent_at,
    attributes__subscriptions__sms__marketing__consent as sms_marketing_consent,
    cast(attributes__subscriptions__sms__marketing__can_receive_sms_marketing as boolean)
        as can_receive_sms_marketing,
    cast(attributes__subscriptions__sms__marketing__consent_timestamp as timestamptz)
        as sms_marketing_consent_at,
    attributes__properties as properties,
    cast(attributes__created as timestamptz) as created_at,
    cast(attributes__updated as timestamptz) as updated_at
from source
where not exists (
    select 1 from {{ ref('stg_klaviyo__deleted_records') }} as gone where gone.record_id = source.id
)
