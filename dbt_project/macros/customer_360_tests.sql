{#- Generic data test: fails on every row where `expression` is not true (dbt packages cannot be installed
    here, so the project carries its own; named for the customer 360 to avoid clashing with a shared one). -#}
{% test customer_360_expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
