select
    stages.id as deal_stage_id,
    stages.label as deal_stage_label,
    cast(stages.display_order as integer) as display_order,
    {{ dbt.safe_cast("stages.metadata__probability", "decimal(5,4)") }} as probability,
    {{ dbt.safe_cast("stages.metadata__is_closed", "boolean") }} as is_closed,
    pipelines.id as pipeline_id,
    pipelines.label as pipeline_label
from {{ declared_source('hubspot', 'pipelines__stages') }} as stages
inner join {{ declared_source('hubspot', 'pipelines') }} as pipelines
    on stages._dlt_parent_id = pipelines._dlt_id
