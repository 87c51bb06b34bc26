select
    id as refund_id,
    order_id,
    cast(created_at as timestamptz) as refunded_at
from {{ declared_source('shopify', 'orders__refunds') }} as orders__refunds
