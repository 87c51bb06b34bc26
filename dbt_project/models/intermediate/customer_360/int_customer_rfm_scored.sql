-- One row per customer with at least one order placed: recency, frequency and monetary value as of the world
-- clock, and their 1-5 scores.
--
-- Scores are quintiles by percent rank, 1 + floor(5 * percent_rank), capped at 5: customers tied on a value
-- share the lower score (ntile would split a tie at random, and 70% of buyers tie on one order), the most
-- recent, most frequent and most valuable customers score 5, and a lone customer scores 1.
with buyers as (
    select
        customer_id,
        {{ dbt.datediff("last_order_at", customer_360_as_of(), "day") }} as recency_days,
        orders_count as frequency,
        lifetime_revenue as monetary
    from {{ ref('int_customer_orders') }}
    where orders_count > 0
),

ranked as (
    select
        *,
        -- the longest ago ranks lowest, so the most recent score highest
        percent_rank() over (order by recency_days desc) as recency_rank,
        percent_rank() over (order by frequency) as frequency_rank,
        percent_rank() over (order by monetary) as monetary_rank
    from buyers
),

scored as (
    select
        customer_id,
        recency_days,
        frequency,
        monetary,
        cast(least(5, 1 + floor(5 * recency_rank)) as integer) as recency_score,
        cast(least(5, 1 + floor(5 * frequency_rank)) as integer) as frequency_score,
        cast(least(5, 1 + floor(5 * monetary_rank)) as integer) as monetary_score
    from ranked
)

select
    *,
    cast(recency_score as varchar) || cast(frequency_score as varchar) || cast(monetary_score as varchar)
        as rfm_cell
from scored
