-- Contacts and deals archived at HubSpot that are archived still: a record restored from the recycle bin
-- comes back through search modified after its archivedAt, and counts as live again.
with archived as (
    select object_type, id, reason, cast(deleted_at as timestamptz) as deleted_at,
        cast(seen_at as timestamptz) as seen_at
    from {{ declared_source('hubspot', 'deleted_records') }} as deleted_records
),

live as (
    select 'contacts' as object_type, id, cast(updated_at as timestamptz) as updated_at
    from {{ declared_source('hubspot', 'contacts') }} as contacts
    where not coalesce(archived, false)
    union all
    select 'deals', id, cast(updated_at as timestamptz)
    from {{ declared_source('hubspot', 'deals') }} as deals
    where not coalesce(archived, false)
)

select
    archived.object_type || ':' || archived.id as deleted_record_id,
    archived.object_type,
    archived.id as record_id,
    archived.reason,
    archived.deleted_at,
    archived.seen_at
from archived
left join live on archived.object_type = live.object_type and archived.id = live.id
where live.id is null or live.updated_at <= coalesce(archived.deleted_at, archived.seen_at)
