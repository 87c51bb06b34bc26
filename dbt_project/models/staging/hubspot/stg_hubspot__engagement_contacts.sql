{% set engagement_tables = [('call', 'calls'), ('meeting', 'meetings'), ('task', 'tasks')] %}

with links as (
    {% for engagement_type, table in engagement_tables %}
    select
        '{{ engagement_type }}' as engagement_type,
        engagements.id as engagement_id,
        links.to_object_id as contact_id,
        links.association_type_id
    from {{ declared_source('hubspot', table ~ '__contacts') }} as links
    inner join {{ declared_source('hubspot', table) }} as engagements
        on links._dlt_parent_id = engagements._dlt_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

-- A link to a merged contact points at its survivor, as HubSpot moves a merged record's associations.
, remapped as (
    select links.engagement_type, links.engagement_id, coalesce(merges.survivor_id, links.contact_id) as contact_id,
        links.association_type_id
    from links
    left join {{ ref('stg_hubspot__merges') }} as merges
        on merges.object_type = 'contacts' and links.contact_id = merges.merged_id
)

select
    engagement_type || ':' || engagement_id || ':' || contact_id as engagement_contact_id,
    engagement_type || ':' || engagement_id as engagement_key,
    engagement_type,
    engagement_id,
    contact_id,
    min(cast(association_type_id as integer)) as association_type_id
from remapped
group by engagement_type, engagement_id, contact_id
