select
    id as order_id,
    name as order_name,
    order_number,
    customer__id as customer_id,
    email,
    phone,
    source_name,
    -- Shopify names the app's sources by platform; the product reports revenue by web, app and pos.
    case
        when source_name = 'web' then 'web'
        when source_name in ('iphone', 'android') then 'app'
        when source_name = 'pos' then 'pos'
        else 'other'
    end as channel,
    location_id,
    currency,
    cast(total_price as decimal(18, 2)) as total_price,
    cast(subtotal_price as decimal(18, 2)) as subtotal_price,
    cast(total_discounts as decimal(18, 2)) as total_discounts,
    financial_status,
    landing_site,
    referring_site,
    cast(created_at as timestamptz) as created_at,
    cast(processed_at as timestamptz) as processed_at,
    cast(cancelled_at as timestamptz) as cancelled_at,
    cast(updated_at as timestamptz) as updated_at
from {{ declared_source('shopify', 'orders') }} as orders
