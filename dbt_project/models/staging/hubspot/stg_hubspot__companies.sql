select
    id as company_id,
    properties__name as company_name,
    properties__domain as domain,
    properties__industry as industry,
    {{ dbt.safe_cast("properties__is_trade_account", "boolean") }} as is_trade_account,
    archived as is_archived,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ declared_source('hubspot', 'companies') }} as companies
