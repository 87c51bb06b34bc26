select
    id as checkout_id,
    token as checkout_token,
    customer__id as customer_id,
    email,
    phone,
    currency,
    cast(total_price as decimal(18, 2)) as total_price,
    landing_site,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at,
    cast(completed_at as timestamptz) as completed_at
from {{ declared_source('shopify', 'checkouts') }} as checkouts
