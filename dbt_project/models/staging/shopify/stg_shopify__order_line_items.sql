select
    id as order_line_item_id,
    order_id,
    product_id,
    variant_id,
    sku,
    title,
    cast(quantity as integer) as quantity,
    cast(price as decimal(18, 2)) as price
from {{ declared_source('shopify', 'orders__line_items') }} as orders__line_items
