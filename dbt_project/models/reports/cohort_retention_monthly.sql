-- One row per acquisition cohort (month of a customer's first order) and month since then: how many of the
-- cohort ordered in that month (web, app or in store), and that share of the cohort. Month 0 is 100% by
-- construction. Only months up to the world clock's month appear.
with orders as (
    select customer_id, cast({{ dbt.date_trunc("month", "ordered_at") }} as date) as order_month
    from {{ ref('int_orders_netted') }}
    where customer_id is not null and not is_cancelled and ordered_at <= {{ customer_360_as_of() }}
),

firsts as (
    select customer_id, min(order_month) as cohort_month from orders group by customer_id
),

cohorts as (
    select cohort_month, count(*) as cohort_size from firsts group by cohort_month
),

activity as (
    select
        firsts.cohort_month,
        {{ dbt.datediff("firsts.cohort_month", "orders.order_month", "month") }} as months_since_first_order,
        count(distinct orders.customer_id) as active_customers
    from orders
    inner join firsts on orders.customer_id = firsts.customer_id
    group by 1, 2
)

select
    activity.cohort_month,
    cast(activity.months_since_first_order as integer) as months_since_first_order,
    cast(cohorts.cohort_size as integer) as cohort_size,
    cast(activity.active_customers as integer) as active_customers,
    cast(activity.active_customers * 1.0 / cohorts.cohort_size as double precision) as retention_rate
from activity
inner join cohorts on activity.cohort_month = cohorts.cohort_month
