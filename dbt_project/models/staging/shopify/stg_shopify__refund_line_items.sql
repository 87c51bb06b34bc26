select
    id as refund_line_item_id,
    refund_id,
    order_id,
    line_item_id as order_line_item_id,
    cast(quantity as integer) as quantity,
    cast(subtotal as decimal(18, 2)) as subtotal
from {{ declared_source('shopify', 'orders__refunds__refund_line_items') }} as orders__refunds__refund_line_items
