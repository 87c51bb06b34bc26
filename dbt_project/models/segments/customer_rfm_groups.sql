-- One row per customer with at least one order: the RFM scores (int_customer_rfm_scored, quintiles among
-- buyers as of the world clock) and the named group their cell falls in. Not a segment itself: the rfm_*
-- segments select one group each. The groups are the usual reading of an RFM grid, first match wins:
--   champions    R >= 4, F >= 4, M >= 4  bought recently, often, and spent the most
--   loyal        R >= 3, F >= 4          buy often and still recently
--   cannot_lose  R <= 2, F >= 4          used to buy often, gone quiet
--   hibernating  R <= 2, F <= 3          bought little, long ago
--   other        everything else (recent one- or few-time buyers)
select
    customer_id,
    case
        when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champions'
        when recency_score >= 3 and frequency_score >= 4 then 'loyal'
        when recency_score <= 2 and frequency_score >= 4 then 'cannot_lose'
        when recency_score <= 2 and frequency_score <= 3 then 'hibernating'
        else 'other'
    end as rfm_group,
    rfm_cell,
    recency_score,
    frequency_score,
    monetary_score,
    recency_days,
    frequency,
    monetary
from {{ ref('int_customer_rfm_scored') }}
