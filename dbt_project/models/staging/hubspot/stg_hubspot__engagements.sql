-- Calls, meetings and tasks side by side; each keeps the columns its own type has and nulls the others.
with calls as (
    select
        'call' as engagement_type,
        id as engagement_id,
        properties__hs_call_title as title,
        cast(null as varchar) as body,
        properties__hs_call_status as status,
        cast(null as varchar) as task_type,
        cast(null as varchar) as priority,
        properties__hs_call_direction as call_direction,
        {{ dbt.safe_cast("properties__hs_call_duration", "bigint") }} as call_duration_ms,
        {{ dbt.safe_cast("properties__hs_timestamp", "timestamptz") }} as occurred_at,
        properties__hubspot_owner_id as owner_id,
        created_at,
        updated_at
    from {{ declared_source('hubspot', 'calls') }} as calls
),

meetings as (
    select
        'meeting' as engagement_type,
        id as engagement_id,
        properties__hs_meeting_title as title,
        cast(null as varchar) as body,
        properties__hs_meeting_outcome as status,
        cast(null as varchar) as task_type,
        cast(null as varchar) as priority,
        cast(null as varchar) as call_direction,
        cast(null as bigint) as call_duration_ms,
        {{ dbt.safe_cast("coalesce(properties__hs_meeting_start_time, properties__hs_timestamp)", "timestamptz") }}
            as occurred_at,
        properties__hubspot_owner_id as owner_id,
        created_at,
        updated_at
    from {{ declared_source('hubspot', 'meetings') }} as meetings
),

tasks as (
    select
        'task' as engagement_type,
        id as engagement_id,
        properties__hs_task_subject as title,
        properties__hs_task_body as body,
        properties__hs_task_status as status,
        properties__hs_task_type as task_type,
        properties__hs_task_priority as priority,
        cast(null as varchar) as call_direction,
        cast(null as bigint) as call_duration_ms,
        {{ dbt.safe_cast("properties__hs_timestamp", "timestamptz") }} as occurred_at,
        properties__hubspot_owner_id as owner_id,
        created_at,
        updated_at
    from {{ declared_source('hubspot', 'tasks') }} as tasks
),

unioned as (
    select * from calls
    union all
    select * from meetings
    union all
    select * from tasks
)

select
    engagement_type || ':' || engagement_id as engagement_key,
    engagement_type,
    engagement_id,
    title,
    body,
    status,
    task_type,
    priority,
    call_direction,
    call_duration_ms,
    occurred_at,
    owner_id,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from unioned
