-- One row per customer with at least one order placed by the world clock: their lifecycle stage and the
-- figures that decided it. Not a segment itself: the lifecycle_* segments select one stage each.
--
-- The thresholds follow each customer's own purchase rhythm where it is known: a customer with three or more
-- orders (two gaps at least: one gap is no rhythm) is churned after six times their mean gap between orders,
-- bounded below by 300 days and above by the fixed 365-day default; at risk after half the churn threshold.
-- Others get the default. So a frequent buyer (a gap under ~61 days) is called churned sooner, and nobody
-- later, than by "no order in 365 days". Measured against the sandbox's true dropout (`cdp segments score`),
-- looser bounds (4 x the gap, at least 120 days) bought recall on the development world but lost precision
-- to the fixed rule on another seed: a few gaps are a noisy estimate of a purchase rate.
{%- set default_churn_days = var('lifecycle_default_churn_days', 365) %}
{%- set min_churn_days = var('lifecycle_min_churn_days', 300) %}
{%- set min_rhythm_orders = var('lifecycle_min_rhythm_orders', 3) %}
{%- set rhythm_multiple = var('lifecycle_churn_rhythm_multiple', 6) %}
{%- set new_customer_days = var('lifecycle_new_customer_days', 30) %}

with orders as (
    select customer_id, ordered_at
    from {{ ref('int_orders_netted') }}
    where customer_id is not null and not is_cancelled and ordered_at <= {{ customer_360_as_of() }}
),

gaps as (
    select
        customer_id,
        ordered_at,
        {{ dbt.datediff("lag(ordered_at) over (partition by customer_id order by ordered_at)", "ordered_at", "second") }}
            / 86400.0 as gap_days,
        row_number() over (partition by customer_id order by ordered_at desc) as recency_rank
    from orders
),

rhythm as (
    select
        customer_id,
        count(*) as orders_count,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        -- the mean gap, (last - first) / (orders - 1): the customer's own purchase rate
        sum(gap_days) / nullif(count(*) - 1, 0) as typical_gap_days,
        max(case when recency_rank = 1 then gap_days end) as gap_before_last_order_days
    from gaps
    group by customer_id
),

thresholds as (
    select
        *,
        {{ dbt.datediff("last_order_at", customer_360_as_of(), "second") }} / 86400.0 as days_since_last_order,
        {{ dbt.datediff("first_order_at", customer_360_as_of(), "second") }} / 86400.0 as days_since_first_order,
        case when orders_count >= {{ min_rhythm_orders }} then 'own_rhythm' else 'default' end as threshold_basis,
        case
            when orders_count >= {{ min_rhythm_orders }}
                then least({{ default_churn_days }}, greatest({{ min_churn_days }}, {{ rhythm_multiple }} * typical_gap_days))
            else {{ default_churn_days }}
        end as churn_after_days
    from rhythm
)

select
    customer_id,
    case
        when days_since_last_order > churn_after_days then 'churned'
        when days_since_last_order > churn_after_days / 2 then 'at_risk'
        when days_since_first_order <= {{ new_customer_days }} then 'new'
        -- they bought again after a quiet spell longer than their churn threshold
        when gap_before_last_order_days > churn_after_days then 'reactivated'
        else 'active'
    end as lifecycle_stage,
    orders_count,
    first_order_at,
    last_order_at,
    cast(days_since_last_order as double precision) as days_since_last_order,
    cast(typical_gap_days as double precision) as typical_gap_days,
    cast(gap_before_last_order_days as double precision) as gap_before_last_order_days,
    threshold_basis,
    cast(churn_after_days / 2 as double precision) as at_risk_after_days,
    cast(churn_after_days as double precision) as churn_after_days
from thresholds
