select
    id as variant_id,
    product_id,
    sku,
    cast(price as decimal(18, 2)) as price,
    cast(inventory_quantity as integer) as inventory_quantity
from {{ declared_source('shopify', 'products__variants') }} as products__variants
