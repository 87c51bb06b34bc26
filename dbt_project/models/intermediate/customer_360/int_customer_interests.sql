-- One row per customer with any product behaviour: the top 3 product categories by weighted behaviour.
-- Weights: a product view 1, an add to cart 3, a purchased line item 5 (online or in store). Ties go to the
-- category named first alphabetically, so the ranking is stable from build to build.
with devices as (
    select record_id as device_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'mixpanel' and record_type = 'device'
),

behaviour_signals as (
    select
        devices.customer_id,
        lower(events.category) as category,
        case events.event_name when 'Product Viewed' then 1 when 'Product Added' then 3 end as weight
    from {{ ref('stg_mixpanel__events') }} as events
    inner join devices on events.device_id = devices.device_id
    where events.event_name in ('Product Viewed', 'Product Added') and events.category is not null
),

purchase_signals as (
    select
        orders.customer_id,
        -- the shop's product type is the analytics category, title-cased
        lower(products.product_type) as category,
        5 as weight
    from {{ ref('int_orders_netted') }} as orders
    inner join {{ ref('stg_shopify__order_line_items') }} as line_items
        on orders.order_id = cast(line_items.order_id as varchar)
    inner join {{ ref('stg_shopify__products') }} as products
        on line_items.product_id = products.product_id
    where orders.customer_id is not null and not orders.is_cancelled and products.product_type is not null
),

scores as (
    select customer_id, category, sum(weight) as interest_score
    from (
        select * from behaviour_signals
        union all
        select * from purchase_signals
    ) as signals
    group by customer_id, category
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by interest_score desc, category) as interest_rank
    from scores
)

select
    customer_id,
    max(case when interest_rank = 1 then category end) as top_interest_1,
    max(case when interest_rank = 2 then category end) as top_interest_2,
    max(case when interest_rank = 3 then category end) as top_interest_3,
    max(case when interest_rank = 1 then interest_score end) as top_interest_1_score
from ranked
where interest_rank <= 3
group by customer_id
