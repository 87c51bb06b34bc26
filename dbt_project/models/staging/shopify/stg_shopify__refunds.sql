select
    id as refund_id,
    order_id,
    cast(created_at as timestamptz) as refunded_at
from {{ source('shopify', 'orders__refunds') }}
