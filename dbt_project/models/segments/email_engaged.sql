-- Email status `engaged` (the rule and its reason columns: customer_email_status).
select * from {{ ref('customer_email_status') }}
where email_status = 'engaged'
