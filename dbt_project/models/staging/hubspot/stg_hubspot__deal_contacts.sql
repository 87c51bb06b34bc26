-- dlt keeps each deal's association list as child rows linked by _dlt_parent_id; a merge replaces them
-- whenever the deal changes, so these rows are always the deal's current contacts.
select
    deals.id || ':' || links.to_object_id as deal_contact_id,
    deals.id as deal_id,
    links.to_object_id as contact_id,
    cast(links.association_type_id as integer) as association_type_id
from {{ declared_source('hubspot', 'deals__contacts') }} as links
inner join {{ declared_source('hubspot', 'deals') }} as deals
    on links._dlt_parent_id = deals._dlt_id
