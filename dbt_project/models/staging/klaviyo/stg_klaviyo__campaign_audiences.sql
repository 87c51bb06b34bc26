-- dlt unnests a campaign's included audiences into a child table keyed to its parent row by _dlt_parent_id.
with audiences as (
    select * from {{ declared_source('klaviyo', 'campaigns__attributes__audiences__included') }} as campaigns__attributes__audiences__included
),

campaigns as (
    select id, _dlt_id from {{ declared_source('klaviyo', 'campaigns') }} as campaigns
)

select
    campaigns.id || ':' || audiences.value as campaign_audience_id,
    campaigns.id as campaign_id,
    audiences.value as audience_id
from audiences
inner join campaigns on audiences._dlt_parent_id = campaigns._dlt_id
