-- One row per product: its category (the shop's product type, lowercased like the analytics category) and
-- whether it can be offered now (active, with stock in at least one variant).
with stock as (
    select product_id, sum(greatest(inventory_quantity, 0)) as inventory_quantity
    from {{ ref('stg_shopify__product_variants') }}
    group by product_id
)

select
    cast(products.product_id as varchar) as product_id,
    products.title,
    lower(products.product_type) as category,
    cast(coalesce(stock.inventory_quantity, 0) as bigint) as inventory_quantity,
    products.status = 'active' and coalesce(stock.inventory_quantity, 0) > 0 as is_available
from {{ ref('stg_shopify__products') }} as products
left join stock on products.product_id = stock.product_id
