-- Lifecycle stage `at_risk` (the rule and its reason columns: customer_lifecycle).
select * from {{ ref('customer_lifecycle') }}
where lifecycle_stage = 'at_risk'
