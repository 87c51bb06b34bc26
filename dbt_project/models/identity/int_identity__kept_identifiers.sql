-- The identifiers that identify, one row per (record, id_type, written value): valid, not blocked, and not a
-- receipt address that may be somebody else's. The identity graph (int_identity__edges) and the customers'
-- listed identifiers (customer_identifiers) both read this, so a value never shows on a profile it did not
-- link.
--
-- A receipt address (rule receipt_address: the email on a guest order) is the household's as often as the
-- buyer's: a partner at the till gives it, and nothing on the order tells which. Var identity_receipt_addresses
-- (dbt_project.yml) sets what it identifies: none (default); receipts, where no shop customer, Klaviyo
-- profile, CRM contact or lead carries it (the one handle on a guest buyer); accounts (the raw identifiers
-- then do not tag it, and it joins like any email).
{%- set receipt_addresses = var('identity_receipt_addresses') %}
{%- if receipt_addresses not in ('none', 'receipts', 'accounts') %}
    {{ exceptions.raise_compiler_error("var identity_receipt_addresses is '" ~ receipt_addresses
        ~ "': set it to none, receipts or accounts (dbt_project.yml says what each does)") }}
{%- endif %}
{{ config(materialized='table') }}

with identifiers as (
    select identifiers.*
    from {{ ref('int_identity__record_identifiers') }} as identifiers
    left join {{ ref('int_identity__blocked_values') }} as blocked
        on identifiers.id_type = blocked.id_type and identifiers.match_key = blocked.match_key
    where identifiers.is_valid and identifiers.match_key is not null and blocked.match_key is null
),

owned_addresses as (
    select distinct id_type, match_key
    from identifiers
    where rule <> 'receipt_address'
)

select identifiers.*
from identifiers
left join owned_addresses
    on identifiers.id_type = owned_addresses.id_type and identifiers.match_key = owned_addresses.match_key
where identifiers.rule <> 'receipt_address'
    {%- if receipt_addresses == 'receipts' %} or owned_addresses.match_key is null {%- endif %}
