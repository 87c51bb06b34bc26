-- Every identifier every entity record carries, as written, before normalisation: one row per (record,
-- id_type, written value). Own ids and references both count: a shop customer id on the customer, on its
-- orders, as Klaviyo's external_id and as a device's $user_id links all of them.
-- `country` is the record's own country when it has one (a phone written locally needs it).
with contacts as (select * from {{ ref('stg_hubspot__contacts') }}),
customers as (select * from {{ ref('stg_shopify__customers') }}),
orders as (select * from {{ ref('stg_shopify__orders') }}),
profiles as (select * from {{ ref('stg_klaviyo__profiles') }}),
leads as (select * from {{ ref('stg_meta__leads') }}),

identifiers as (
    select 'hubspot' as source, 'contact' as record_type, contact_id as record_id,
        'hubspot_contact_id' as id_type, contact_id as written_value, cast(null as varchar) as country,
        created_at as first_seen_at, updated_at as last_seen_at
    from contacts
    union all
    select 'hubspot', 'contact', contact_id, 'email', email, null, created_at, updated_at from contacts
    union all
    select 'hubspot', 'contact', contact_id, 'phone', phone, null, created_at, updated_at from contacts
    union all
    select 'hubspot', 'contact', contact_id, 'phone', mobile_phone, null, created_at, updated_at from contacts
    union all
    select 'hubspot', 'contact', contact_id, 'loyalty_number', loyalty_number, null, created_at, updated_at
    from contacts
    union all
    -- a deal lists the contacts of one buyer: CRM duplicates of a person share their deal
    select 'hubspot', 'contact', links.contact_id, 'hubspot_deal_id', links.deal_id, null,
        contacts.created_at, contacts.updated_at
    from {{ ref('stg_hubspot__deal_contacts') }} as links
    inner join contacts on links.contact_id = contacts.contact_id
    union all
    -- a contact merged into another is no record of its own any more, but what it carried is still the
    -- person's: its identifiers count as the survivor's
    select 'hubspot', 'contact', contact_id, 'hubspot_contact_id', unnest(merged_contact_ids), null, created_at,
        updated_at
    from contacts
    union all
    select 'hubspot', 'contact', contact_id, 'email', unnest(merged_emails), null, created_at, updated_at
    from contacts
    union all
    select 'hubspot', 'contact', contact_id, 'phone', unnest(merged_phones), null, created_at, updated_at
    from contacts
    union all
    select 'hubspot', 'contact', contact_id, 'loyalty_number', unnest(merged_loyalty_numbers), null, created_at,
        updated_at
    from contacts

    union all
    select 'shopify', 'customer', cast(customer_id as varchar), 'shopify_customer_id', cast(customer_id as varchar),
        country_code, created_at, updated_at
    from customers
    union all
    select 'shopify', 'customer', cast(customer_id as varchar), 'email', email, country_code, created_at, updated_at
    from customers
    union all
    select 'shopify', 'customer', cast(customer_id as varchar), 'phone', phone, country_code, created_at, updated_at
    from customers

    union all
    select 'shopify', 'order', cast(order_id as varchar), 'shopify_order_id', cast(order_id as varchar), null,
        created_at, updated_at
    from orders
    union all
    select 'shopify', 'order', cast(orders.order_id as varchar), 'shopify_customer_id', cast(orders.customer_id as varchar),
        null, orders.created_at, orders.updated_at
    from orders
    union all
    select 'shopify', 'order', cast(order_id as varchar), 'email', email, null, created_at, updated_at from orders
    where customer_id is not null
    union all
    -- an order is written in its customer's country, or else in the market of its currency
    select 'shopify', 'order', cast(orders.order_id as varchar), 'phone', orders.phone,
        coalesce(customers.country_code, markets.country), orders.created_at, orders.updated_at
    from orders
    left join customers on orders.customer_id = customers.customer_id
    left join {{ ref('identity_currency_markets') }} as markets on orders.currency = markets.currency
    union all
    select 'shopify', 'order', cast(order_id as varchar), 'fbclid',
        {{ dbt.split_part(dbt.split_part('landing_site', "'fbclid='", 2), "'&'", 1) }}, null, created_at, updated_at
    from orders
    where landing_site like '%fbclid=%'
    union all
    -- POS orders carry the loyalty number in a note attribute
    select 'shopify', 'order', cast(orders.order_id as varchar), 'loyalty_number', notes.attribute_value, null,
        orders.created_at, orders.updated_at
    from {{ ref('stg_shopify__order_note_attributes') }} as notes
    inner join orders on notes.order_id = orders.order_id
    where notes.attribute_name = 'loyalty_number'

    union all
    select 'klaviyo', 'profile', profile_id, 'klaviyo_profile_id', profile_id, null, created_at, updated_at
    from profiles
    union all
    select 'klaviyo', 'profile', profile_id, 'email', email, null, created_at, updated_at from profiles
    union all
    select 'klaviyo', 'profile', profile_id, 'phone', phone_number, null, created_at, updated_at from profiles
    union all
    select 'klaviyo', 'profile', profile_id, 'shopify_customer_id', external_id, null, created_at, updated_at
    from profiles
    union all
    select 'klaviyo', 'profile', profile_id, 'loyalty_number', loyalty_number, null, created_at, updated_at
    from profiles

    union all
    select 'meta', 'lead', lead_id, 'meta_lead_id', lead_id, null, created_at, created_at from leads
    union all
    select 'meta', 'lead', lead_id, 'email', email, null, created_at, created_at from leads
    union all
    select 'meta', 'lead', lead_id, 'phone', phone_number, null, created_at, created_at from leads
),

all_identifiers as (
    select *, 'co-occurrence' as rule from identifiers
    union all
    -- a guest order's email (no shop customer attached) is a receipt address: int_identity__kept_identifiers
    select 'shopify', 'order', cast(order_id as varchar), 'email', email, null, created_at, updated_at,
        {% if var('identity_receipt_addresses') == 'accounts' %} 'co-occurrence' {% else %} 'receipt_address' {% endif %}
    from orders
    where customer_id is null
    union all
    select 'mixpanel', 'device', device_id, id_type, written_value, null, first_seen_at, last_seen_at,
        case when is_shared_device then 'shared_device_main_user' else 'co-occurrence' end
    from {{ ref('int_identity__device_identifiers') }}
)

select
    source,
    record_type,
    record_id,
    id_type,
    written_value,
    country,
    rule,
    min(first_seen_at) as first_seen_at,
    max(last_seen_at) as last_seen_at
from all_identifiers
where written_value is not null and trim(written_value) <> ''
group by source, record_type, record_id, id_type, written_value, country, rule
