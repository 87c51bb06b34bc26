-- The customers live at Shopify: deleted ones (stg_shopify__deleted_records) are left out.
select
    id as customer_id,
    email,
    phone,
    first_name,
    last_name,
    state as account_state,
    tags,
    note,
    cast(orders_count as integer) as orders_count,
    cast(total_spent as decimal(18, 2)) as total_spent,
    default_address__country_code as country_code,
    default_address__city as city,
    default_address__zip as zip,
    email_marketing_consent__state as email_marketing_consent_state,
    email_marketing_consent__opt_in_level as email_marketing_opt_in_level,
    cast(email_marketing_consent__consent_updated_at as timestamptz) as email_marketing_consent_updated_at,
    sms_marketing_consent__state as sms_marketing_consent_state,
    sms_marketing_consent__opt_in_level as sms_marketing_opt_in_level,
    cast(sms_marketing_consent__consent_updated_at as timestamptz) as sms_marketing_consent_updated_at,
    sms_marketing_consent__consent_collected_from as sms_marketing_consent_collected_from,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ declared_source('shopify', 'customers') }} as customers
where not exists (
    select 1 from {{ ref('stg_shopify__deleted_records') }} as gone
    where gone.record_id = cast(customers.id as varchar)
)
