-- Lifecycle stage `reactivated` (the rule and its reason columns: customer_lifecycle).
select * from {{ ref('customer_lifecycle') }}
where lifecycle_stage = 'reactivated'
