-- Customers deleted at Shopify: created before the latest id listing and missing from it (a deleted
-- customer simply disappears from Shopify's listings). No listing yet: nothing is known deleted.
with listings as (
    select id, cast(listed_at as timestamptz) as listed_at
    from {{ declared_source('shopify', 'customer_listings') }} as listings
),

latest as (select max(listed_at) as listed_at from listings)

select
    'customers:' || cast(customers.id as varchar) as deleted_record_id,
    'customers' as object_type,
    cast(customers.id as varchar) as record_id,
    'deleted' as reason,
    cast(null as timestamptz) as deleted_at,
    latest.listed_at as seen_at
from {{ declared_source('shopify', 'customers') }} as customers
cross join latest
left join listings on customers.id = listings.id
where latest.listed_at is not null
    and cast(customers.created_at as timestamptz) < latest.listed_at
    and (listings.id is null or listings.listed_at < latest.listed_at)
