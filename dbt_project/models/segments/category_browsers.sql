-- Customers who viewed products of one category at least N times (default 3) in the 7 days up to the world
-- clock without buying anything of that category in those 7 days (web, app or in store). One row per
-- customer: the category they viewed most (ties alphabetical), and how many categories qualified.
{%- set min_views = var('category_browser_min_views', 3) %}
{%- set window_days = var('category_browser_window_days', 7) %}

with devices as (
    select record_id as device_id, customer_id
    from {{ ref('customer_source_records') }}
    where source = 'mixpanel' and record_type = 'device'
),

window_start as (
    select {{ dbt.dateadd("day", -window_days, customer_360_as_of()) }} as started_at
),

views as (
    select
        devices.customer_id,
        lower(events.category) as category,
        count(*) as views_count,
        max(events.event_at) as last_viewed_at
    from {{ ref('stg_mixpanel__events') }} as events
    inner join devices on events.device_id = devices.device_id
    where events.event_name = 'Product Viewed'
        and events.category is not null
        and events.event_at >= (select started_at from window_start)
        and events.event_at <= {{ customer_360_as_of() }}
    group by devices.customer_id, lower(events.category)
),

purchases as (
    select distinct orders.customer_id, lower(products.product_type) as category
    from {{ ref('int_orders_netted') }} as orders
    inner join {{ ref('stg_shopify__order_line_items') }} as line_items
        on orders.order_id = cast(line_items.order_id as varchar)
    inner join {{ ref('stg_shopify__products') }} as products on line_items.product_id = products.product_id
    where orders.customer_id is not null
        and not orders.is_cancelled
        and orders.ordered_at >= (select started_at from window_start)
        and orders.ordered_at <= {{ customer_360_as_of() }}
),

qualifying as (
    select views.*
    from views
    left join purchases on views.customer_id = purchases.customer_id and views.category = purchases.category
    where views.views_count >= {{ min_views }} and purchases.customer_id is null
),

ranked as (
    select
        *,
        count(*) over (partition by customer_id) as categories_browsed_count,
        row_number() over (partition by customer_id order by views_count desc, category) as category_rank
    from qualifying
)

select
    customer_id,
    category as browsed_category,
    cast(views_count as integer) as category_views_7_days,
    last_viewed_at,
    cast(categories_browsed_count as integer) as categories_browsed_count
from ranked
where category_rank = 1
