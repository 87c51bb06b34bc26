-- Contacts and deals merged into another record at HubSpot. The survivor lists the merged ids in
-- hs_merged_object_ids (`;`-separated) and the merged ids stop appearing: whatever still points at a merged
-- id (an older deal association, an older copy of the record) now means the survivor, and a merged id is
-- never read or written again. A survivor merged later into a third record passes its merges on.
with survivors as (
    select 'contacts' as object_type, id, properties__hs_merged_object_ids as merged_ids, updated_at
    from {{ declared_source('hubspot', 'contacts') }} as contacts
    union all
    select 'deals', id, properties__hs_merged_object_ids, updated_at
    from {{ declared_source('hubspot', 'deals') }} as deals
),

direct as (
    select object_type, trim(merged_id) as merged_id, id as survivor_id, updated_at
    from survivors, unnest(string_split(coalesce(merged_ids, ''), ';')) as ids (merged_id)
    where trim(merged_id) <> '' and trim(merged_id) <> id
    -- an id listed by two survivors (merged twice): the latest merge holds
    qualify row_number() over (partition by object_type, trim(merged_id) order by updated_at desc, id) = 1
)

select
    direct.object_type || ':' || direct.merged_id as merge_id,
    direct.object_type,
    direct.merged_id,
    coalesce(onward.survivor_id, direct.survivor_id) as survivor_id,
    cast(direct.updated_at as timestamptz) as seen_at
from direct
left join direct as onward
    on direct.object_type = onward.object_type and direct.survivor_id = onward.merged_id
