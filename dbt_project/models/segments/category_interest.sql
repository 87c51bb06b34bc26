-- Customers with a clear product interest: their top category by weighted behaviour (int_customer_interests:
-- view 1, add to cart 3, purchased item 5) scores at least N (default 5: one purchase, or an add to cart and
-- two views). Below that, one stray product view would make an "interest". One row per member with their top
-- three categories, for a messaging tool to personalise on.
{%- set min_score = var('interest_min_score', 5) %}

select
    customer_id,
    top_interest_1,
    top_interest_2,
    top_interest_3,
    cast(top_interest_1_score as integer) as top_interest_1_score
from {{ ref('int_customer_interests') }}
where top_interest_1_score >= {{ min_score }}
