-- The identity graph's kept links: one row per (record, id_type, match_key) a record carries, for the values
-- that identify (int_identity__kept_identifiers), with the rule that made it a link and the type's trust
-- rank. Records sharing a match key are linked; the resolution step (cdp/identity/resolve.py) may still
-- refuse a value that would break a per-profile limit (identity.refused_values).
{{ config(materialized='table') }}

select
    identifiers.source,
    identifiers.record_type,
    identifiers.record_id,
    identifiers.id_type,
    identifiers.match_key,
    min(identifiers.id_value) as id_value,
    case
        when bool_or(identifiers.rule = 'shared_device_main_user') then 'shared_device_main_user'
        when bool_or(identifiers.rule = 'receipt_address') then 'receipt_address'
        when identifiers.id_type = 'email' and min(identifiers.id_value) <> identifiers.match_key
            then 'email_provider_rules'
        else 'co-occurrence'
    end as rule,
    min(types.trust_rank) as trust_rank,
    min(identifiers.first_seen_at) as first_seen_at,
    max(identifiers.last_seen_at) as last_seen_at
from {{ ref('int_identity__kept_identifiers') }} as identifiers
inner join {{ ref('identity_identifier_types') }} as types on identifiers.id_type = types.id_type
group by identifiers.source, identifiers.record_type, identifiers.record_id, identifiers.id_type, identifiers.match_key
