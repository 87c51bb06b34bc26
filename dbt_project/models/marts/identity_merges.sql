-- The merge ledger: one row per merge or split of customer ids, as the resolution step recorded it.
select
    event_id,
    occurred_at,
    event_type,
    surviving_customer_id,
    retired_customer_id,
    new_customer_id,
    edge_id_type,
    edge_match_key,
    edge_records,
    run_id
from {{ source('identity', 'merge_events') }}
