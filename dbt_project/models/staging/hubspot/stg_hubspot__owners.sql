select
    id as owner_id,
    email,
    first_name,
    last_name,
    archived as is_archived,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ declared_source('hubspot', 'owners') }} as owners
