select
    deals.id || ':' || links.to_object_id as deal_company_id,
    deals.id as deal_id,
    links.to_object_id as company_id,
    cast(links.association_type_id as integer) as association_type_id
from {{ declared_source('hubspot', 'deals__companies') }} as links
inner join {{ declared_source('hubspot', 'deals') }} as deals
    on links._dlt_parent_id = deals._dlt_id
