-- One row per customer: the best name, and every email and phone identity resolution knows for them.
--
-- Best name: the most trusted non-empty name, CRM > shop > messaging tool > lead form (sales reps correct
-- names by hand; lead forms are typed in a hurry), the most recently updated record within a source.
-- Emails and phones: most recently seen first; the first is the primary one.
with records as (
    select * from {{ ref('customer_source_records') }}
),

names as (
    select records.customer_id, 1 as trust, contacts.updated_at, contacts.first_name, contacts.last_name,
        cast(null as varchar) as full_name
    from {{ ref('stg_hubspot__contacts') }} as contacts
    inner join records
        on records.source = 'hubspot' and records.record_type = 'contact' and records.record_id = contacts.contact_id

    union all

    select records.customer_id, 2, customers.updated_at, customers.first_name, customers.last_name, null
    from {{ ref('stg_shopify__customers') }} as customers
    inner join records
        on records.source = 'shopify' and records.record_type = 'customer'
        and records.record_id = cast(customers.customer_id as varchar)

    union all

    select records.customer_id, 3, profiles.updated_at, profiles.first_name, profiles.last_name, null
    from {{ ref('stg_klaviyo__profiles') }} as profiles
    inner join records
        on records.source = 'klaviyo' and records.record_type = 'profile' and records.record_id = profiles.profile_id

    union all

    select records.customer_id, 4, leads.created_at, null, null, leads.full_name
    from {{ ref('stg_meta__leads') }} as leads
    inner join records
        on records.source = 'meta' and records.record_type = 'lead' and records.record_id = leads.lead_id
),

named as (
    select
        customer_id,
        trust,
        updated_at,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        coalesce(
            nullif(trim(coalesce(trim(first_name), '') || ' ' || coalesce(trim(last_name), '')), ''),
            nullif(trim(full_name), '')
        ) as full_name
    from names
),

best_names as (
    select
        *,
        row_number() over (partition by customer_id order by trust, updated_at desc, full_name) as name_rank
    from named
    where full_name is not null
),

identifiers as (
    select customer_id, id_type, id_value, last_seen_at
    from {{ ref('customer_identifiers') }}
    where id_type in ('email', 'phone')
),

contact_lists as (
    select
        customer_id,
        {{ customer_360_list_agg("case when id_type = 'email' then id_value end", "last_seen_at desc, id_value") }}
            as emails,
        {{ customer_360_list_agg("case when id_type = 'phone' then id_value end", "last_seen_at desc, id_value") }}
            as phones
    from identifiers
    group by customer_id
),

customers as (
    select distinct customer_id from records
)

select
    customers.customer_id,
    best_names.full_name as best_name,
    best_names.first_name,
    best_names.last_name,
    contact_lists.emails,
    contact_lists.phones
from customers
left join best_names on customers.customer_id = best_names.customer_id and best_names.name_rank = 1
left join contact_lists on customers.customer_id = contact_lists.customer_id
