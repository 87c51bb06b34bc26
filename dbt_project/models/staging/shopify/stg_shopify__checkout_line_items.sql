-- Abandoned-checkout items carry no id of their own: the checkout and the item's position identify one.
select
    cast(checkout_id as varchar) || ':' || cast(_dlt_list_idx as varchar) as checkout_line_item_id,
    checkout_id,
    product_id,
    variant_id,
    sku,
    title,
    cast(quantity as integer) as quantity,
    cast(price as decimal(18, 2)) as price
from {{ declared_source('shopify', 'checkouts__line_items') }} as checkouts__line_items
