-- dlt keeps each deal's association list as child rows linked by _dlt_parent_id; a merge replaces them
-- whenever the deal changes, so these rows are always the deal's current contacts. Links of archived or
-- merged-away deals are left out; a link to a merged contact points at its survivor (as HubSpot moves a
-- merged record's associations), and a link to an archived contact is left out.
with links as (
    select
        deals.id as deal_id,
        coalesce(merges.survivor_id, links.to_object_id) as contact_id,
        cast(links.association_type_id as integer) as association_type_id
    from {{ declared_source('hubspot', 'deals__contacts') }} as links
    inner join {{ declared_source('hubspot', 'deals') }} as deals
        on links._dlt_parent_id = deals._dlt_id
    left join {{ ref('stg_hubspot__merges') }} as merges
        on merges.object_type = 'contacts' and links.to_object_id = merges.merged_id
    where deals.id in (select deal_id from {{ ref('stg_hubspot__deals') }})
        and links.to_object_id not in (
            select record_id from {{ ref('stg_hubspot__deleted_records') }} where object_type = 'contacts'
        )
)

select
    deal_id || ':' || contact_id as deal_contact_id,
    deal_id,
    contact_id,
    min(association_type_id) as association_type_id
from links
group by deal_id, contact_id
