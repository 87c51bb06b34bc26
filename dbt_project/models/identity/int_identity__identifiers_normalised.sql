-- Identifiers normalised by plain string rules: emails trimmed and lowercased (id_value) with the provider
-- match key beside it (gmail dots and +tags removed), other ids trimmed. Phones pass through as written:
-- int_identity__record_identifiers parses them with `phonenumbers`.
select
    source,
    record_type,
    record_id,
    id_type,
    written_value,
    country,
    rule,
    first_seen_at,
    last_seen_at,
    case
        when id_type = 'email' then {{ identity_email_value('written_value') }}
        else trim(written_value)
    end as id_value,
    case
        when id_type = 'email' then {{ identity_email_match_key('written_value') }}
        else trim(written_value)
    end as match_key,
    case
        when id_type = 'email' then {{ identity_is_valid_email('written_value') }}
        else true
    end as is_valid
from {{ ref('int_identity__raw_identifiers') }}
