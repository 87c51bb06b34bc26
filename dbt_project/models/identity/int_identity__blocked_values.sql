-- A table: readers (cdp identity explain) use it from the published copy, where views of another file break.
{{ config(materialized='table') }}

-- Values that never link records, one row per (id_type, match_key) with the reason:
-- - listed junk (seed identity_junk_values: exact values and whole-value patterns, per type or for all);
-- - values of an auto_block type carried by implausibly many records of one kind (seed
--   identity_record_type_limits): a personal email is not on 40 shop customers.
-- - emails whose records name different people (different first names): a family address shared by two
--   people, which must not glue them together even when nothing else tells them apart;
-- - emails on a shop order that is not attached to a customer although the shop customer with that email
--   already existed when it was placed: the shop did not credit the address's owner with the order, so
--   somebody else (a partner at the till) used the address. Orders placed before the customer existed say
--   nothing: they are the owner's own guest orders, as a rule.
-- Invalid values (unparseable phones, malformed emails) never get a match key and need no row here.
with identifiers as (
    select * from {{ ref('int_identity__record_identifiers') }}
    where is_valid and match_key is not null
),

junk as (select * from {{ ref('identity_junk_values') }}),

listed as (
    select
        identifiers.id_type,
        identifiers.match_key,
        min('junk list: ' || junk.value) as reason
    from identifiers
    inner join junk
        on (junk.id_type = identifiers.id_type or junk.id_type = '*')
        and (
            (not junk.is_pattern and lower(junk.value) in (identifiers.match_key, lower(trim(identifiers.written_value))))
            or (junk.is_pattern and (
                {{ identity_full_match('identifiers.match_key', 'junk.value') }}
                or {{ identity_full_match('lower(trim(identifiers.written_value))', 'junk.value') }}
            ))
        )
    group by identifiers.id_type, identifiers.match_key
),

carriers as (
    select id_type, match_key, source, record_type, count(distinct record_id) as n_records
    from identifiers
    group by id_type, match_key, source, record_type
),

too_common as (
    select
        carriers.id_type,
        carriers.match_key,
        min('carried by ' || cast(carriers.n_records as varchar) || ' ' || carriers.source || ' '
            || carriers.record_type || ' records (more than ' || cast(limits.max_records_per_value as varchar)
            || ')') as reason
    from carriers
    inner join {{ ref('identity_record_type_limits') }} as limits
        on carriers.source = limits.source and carriers.record_type = limits.record_type
    inner join {{ ref('identity_identifier_types') }} as types on carriers.id_type = types.id_type
    where types.auto_block and carriers.n_records > limits.max_records_per_value
    group by carriers.id_type, carriers.match_key
),

first_names as (
    select 'hubspot' as source, 'contact' as record_type, contact_id as record_id, first_name
    from {{ ref('stg_hubspot__contacts') }}
    union all
    select 'shopify', 'customer', cast(customer_id as varchar), first_name
    from {{ ref('stg_shopify__customers') }}
    union all
    select 'klaviyo', 'profile', profile_id, first_name
    from {{ ref('stg_klaviyo__profiles') }}
    union all
    select 'meta', 'lead', lead_id, split_part(trim(full_name), ' ', 1)
    from {{ ref('stg_meta__leads') }}
),

shared_by_different_people as (
    select
        identifiers.id_type,
        identifiers.match_key,
        'family address: its records name ' || cast(count(distinct lower(trim(names.first_name))) as varchar)
            || ' different people' as reason
    from identifiers
    inner join first_names as names
        on identifiers.source = names.source
        and identifiers.record_type = names.record_type
        and identifiers.record_id = names.record_id
    where identifiers.id_type = 'email' and trim(coalesce(names.first_name, '')) <> ''
    group by identifiers.id_type, identifiers.match_key
    having count(distinct lower(trim(names.first_name))) > 1
),

guest_orders as (
    select order_emails.record_id as order_id, order_emails.match_key, orders.created_at
    from identifiers as order_emails
    inner join {{ ref('stg_shopify__orders') }} as orders
        on order_emails.record_id = cast(orders.order_id as varchar)
    where order_emails.source = 'shopify' and order_emails.record_type = 'order'
        and order_emails.id_type = 'email' and orders.customer_id is null
),

used_by_someone_the_shop_did_not_credit as (
    select
        customer_emails.id_type,
        customer_emails.match_key,
        'family address: shop order ' || min(guest_orders.order_id) || ' used it without its shop customer '
            || min(customer_emails.record_id) as reason
    from guest_orders
    inner join identifiers as customer_emails on guest_orders.match_key = customer_emails.match_key
    inner join {{ ref('stg_shopify__customers') }} as customers
        on customer_emails.record_id = cast(customers.customer_id as varchar)
    where customer_emails.id_type = 'email'
        and customer_emails.source = 'shopify' and customer_emails.record_type = 'customer'
        and customers.created_at <= guest_orders.created_at
    group by customer_emails.id_type, customer_emails.match_key
)

select id_type, match_key, min(reason) as reason
from (
    select * from listed
    union all select * from too_common
    union all select * from shared_by_different_people
    union all select * from used_by_someone_the_shop_did_not_credit
) as blocked
group by id_type, match_key
