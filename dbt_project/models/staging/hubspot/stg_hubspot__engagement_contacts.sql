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

select
    engagement_type || ':' || engagement_id || ':' || contact_id as engagement_contact_id,
    engagement_type || ':' || engagement_id as engagement_key,
    engagement_type,
    engagement_id,
    contact_id,
    cast(association_type_id as integer) as association_type_id
from links
