-- Profiles deleted at Klaviyo: created before the latest id listing and missing from it (a deleted profile
-- simply disappears from Klaviyo's listings). No listing yet: nothing is known deleted.
with listings as (
    select id, cast(listed_at as timestamptz) as listed_at
    from {{ declared_source('klaviyo', 'profile_listings') }} as listings
),

latest as (select max(listed_at) as listed_at from listings)

select
    'profiles:' || profiles.id as deleted_record_id,
    'profiles' as object_type,
    profiles.id as record_id,
    'deleted' as reason,
    cast(null as timestamptz) as deleted_at,
    latest.listed_at as seen_at
from {{ declared_source('klaviyo', 'profiles') }} as profiles
cross join latest
left join listings on profiles.id = listings.id
where latest.listed_at is not null
    and cast(profiles.attributes__created as timestamptz) < latest.listed_at
    and (listings.id is null or listings.listed_at < latest.listed_at)
