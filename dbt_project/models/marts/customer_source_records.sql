-- One row per entity record the identity graph holds (the ground truth's record kinds), with the customer id
-- identity resolution gave it. The grain and names are a public contract (customer_profiles builds on it).
select
    source,
    record_type,
    record_id,
    customer_id
from {{ source('identity', 'record_assignments') }}
