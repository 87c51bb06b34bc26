with source as (
    select * from {{ declared_source('meta', 'leads') }} as leads
),

answers as (
    select
        *,
        -- field_data is [{"name": <question>, "values": [<answer>]}]: take the first answer of each question
        list_filter(cast(field_data as json[]), lambda f: f ->> 'name' = 'email')[1] ->> '$.values[0]'
            as email_answer,
        list_filter(cast(field_data as json[]), lambda f: f ->> 'name' = 'phone_number')[1] ->> '$.values[0]'
            as phone_answer,
        list_filter(cast(field_data as json[]), lambda f: f ->> 'name' = 'full_name')[1] ->> '$.values[0]'
            as full_name_answer
    from source
)

select
    cast(id as varchar) as lead_id,
    cast(created_time as timestamptz) as created_at,
    cast(ad_id as varchar) as ad_id,
    cast(campaign_id as varchar) as campaign_id,
    cast(form_id as varchar) as form_id,
    email_answer as email,
    phone_answer as phone_number,
    full_name_answer as full_name,
    cast(field_data as json) as field_data
from answers
