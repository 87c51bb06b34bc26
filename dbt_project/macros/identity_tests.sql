{#- Generic test: no two rows share the same values of `columns` (dbt packages cannot be installed here). -#}
{% test identity_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
