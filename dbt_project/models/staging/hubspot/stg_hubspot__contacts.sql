-- The contacts live at HubSpot: archived ones and ones merged into another contact are left out. What a
-- merged contact carried still belongs to the person (HubSpot keeps its email on the survivor too), so the
-- survivor lists the merged contacts' ids, emails, phones and loyalty numbers (merged_*; empty lists when
-- nothing was merged into it).
with raw as (select * from {{ declared_source('hubspot', 'contacts') }}),

merged as (
    select
        merges.survivor_id,
        list(merges.merged_id order by merges.merged_id) as merged_contact_ids,
        list(raw.properties__email order by merges.merged_id) filter (where raw.properties__email is not null)
            as merged_emails,
        list(phones.phone order by merges.merged_id) filter (where phones.phone is not null) as merged_phones,
        list(raw.properties__loyalty_number order by merges.merged_id)
            filter (where raw.properties__loyalty_number is not null) as merged_loyalty_numbers
    from {{ ref('stg_hubspot__merges') }} as merges
    inner join raw on merges.merged_id = raw.id
    left join lateral (
        select unnest([raw.properties__phone, raw.properties__mobilephone]) as phone
    ) as phones on true
    where merges.object_type = 'contacts'
    group by merges.survivor_id
)

select
    raw.id as contact_id,
    raw.properties__email as email,
    raw.properties__firstname as first_name,
    raw.properties__lastname as last_name,
    raw.properties__phone as phone,
    raw.properties__mobilephone as mobile_phone,
    raw.properties__company as company_name,
    raw.properties__lifecyclestage as lifecycle_stage,
    raw.properties__hubspot_owner_id as owner_id,
    raw.properties__loyalty_number as loyalty_number,
    {{ dbt.safe_cast("raw.properties__hs_email_optout", "boolean") }} as is_email_opted_out,
    raw.archived as is_archived,
    cast(raw.created_at as timestamptz) as created_at,
    cast(raw.updated_at as timestamptz) as updated_at,
    coalesce(merged.merged_contact_ids, []::varchar[]) as merged_contact_ids,
    coalesce(merged.merged_emails, []::varchar[]) as merged_emails,
    coalesce(merged.merged_phones, []::varchar[]) as merged_phones,
    coalesce(merged.merged_loyalty_numbers, []::varchar[]) as merged_loyalty_numbers
from raw
left join merged on raw.id = merged.survivor_id
where not coalesce(raw.archived, false)
    and not exists (
        select 1 from {{ ref('stg_hubspot__merges') }} as merges
        where merges.object_type = 'contacts' and merges.merged_id = raw.id
    )
    and not exists (
        select 1 from {{ ref('stg_hubspot__deleted_records') }} as gone
        where gone.object_type = 'contacts' and gone.record_id = raw.id
    )
