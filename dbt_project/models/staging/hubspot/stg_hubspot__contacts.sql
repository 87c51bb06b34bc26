select
    id as contact_id,
    properties__email as email,
    properties__firstname as first_name,
    properties__lastname as last_name,
    properties__phone as phone,
    properties__mobilephone as mobile_phone,
    properties__company as company_name,
    properties__lifecyclestage as lifecycle_stage,
    properties__hubspot_owner_id as owner_id,
    properties__loyalty_number as loyalty_number,
    {{ dbt.safe_cast("properties__hs_email_optout", "boolean") }} as is_email_opted_out,
    archived as is_archived,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ declared_source('hubspot', 'contacts') }} as contacts
