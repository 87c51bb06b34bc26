-- One row per (customer, id_type, normalised value): every identifier the customer's records
-- carry, when it was first and last seen, and the sources that carry it (comma-separated, sorted).
with assignments as (
    select * from {{ source('identity', 'record_assignments') }}
),

identifiers as (
    select * from {{ ref('int_identity__kept_identifiers') }}
),

per_source as (
    select
        assignments.customer_id,
        identifiers.id_type,
        identifiers.id_value,
        identifiers.source,
        min(identifiers.first_seen_at) as first_seen_at,
        max(identifiers.last_seen_at) as last_seen_at
    from identifiers
    inner join assignments
        on identifiers.source = assignments.source
        and identifiers.record_type = assignments.record_type
        and identifiers.record_id = assignments.record_id
    group by assignments.customer_id, identifiers.id_type, identifiers.id_value, identifiers.source
)

select
    customer_id,
    id_type,
    id_value,
    min(first_seen_at) as first_seen_at,
    max(last_seen_at) as last_seen_at,
    {{ dbt.listagg('source', "','", 'order by source') }} as sources
from per_source
group by customer_id, id_type, id_value
