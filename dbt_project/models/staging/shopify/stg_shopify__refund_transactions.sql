select
    id as refund_transaction_id,
    refund_id,
    order_id,
    kind,
    cast(amount as decimal(18, 2)) as amount
from {{ declared_source('shopify', 'orders__refunds__transactions') }} as orders__refunds__transactions
