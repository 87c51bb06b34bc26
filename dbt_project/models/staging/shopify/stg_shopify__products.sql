select
    id as product_id,
    title,
    product_type,
    vendor,
    status,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ declared_source('shopify', 'products') }} as products
