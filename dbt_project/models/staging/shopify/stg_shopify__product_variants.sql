select
    id as variant_id,
    product_id,
    sku,
    cast(price as decimal(18, 2)) as price,
    cast(inventory_quantity as integer) as inventory_quantity
from {{ source('shopify', 'products__variants') }}
