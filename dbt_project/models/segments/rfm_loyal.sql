-- RFM group `loyal` (the rule and its reason columns: customer_rfm_groups).
select * from {{ ref('customer_rfm_groups') }}
where rfm_group = 'loyal'
