{#- Helpers for the customer 360 models (models/intermediate/customer_360, marts/customer_profiles). -#}

{#- The world clock as a timestamp: every time-relative figure is measured from it, never from now(), so a
    build is reproducible (the orchestration passes the clock as the `as_of` var on every build). -#}
{% macro customer_360_as_of() -%}
    cast('{{ var("as_of") }}' as timestamp with time zone)
{%- endmacro %}


{#- An ordered list of the non-null values of `expression`. array_agg with an ordering and a filter is
    standard SQL that DuckDB and PostgreSQL both accept; Snowflake spells the ordering differently. -#}
{% macro customer_360_list_agg(expression, order_by) -%}
    {{ return(adapter.dispatch('customer_360_list_agg', 'cdp')(expression, order_by)) }}
{%- endmacro %}

{% macro default__customer_360_list_agg(expression, order_by) -%}
    array_agg({{ expression }} order by {{ order_by }}) filter (where {{ expression }} is not null)
{%- endmacro %}

{% macro snowflake__customer_360_list_agg(expression, order_by) -%}
    array_agg({{ expression }}) within group (order by {{ order_by }})
{%- endmacro %}


{#- The value of one query parameter of a URL or path (`/products?utm_source=facebook&fbclid=...`), or null.
    Regular-expression functions differ per warehouse, hence the dispatch. -#}
{% macro customer_360_url_parameter(url, parameter) -%}
    {{ return(adapter.dispatch('customer_360_url_parameter', 'cdp')(url, parameter)) }}
{%- endmacro %}

{% macro default__customer_360_url_parameter(url, parameter) -%}
    substring({{ url }} from '[?&]{{ parameter }}=([^&#]+)')
{%- endmacro %}

{% macro duckdb__customer_360_url_parameter(url, parameter) -%}
    nullif(regexp_extract({{ url }}, '[?&]{{ parameter }}=([^&#]+)', 1), '')
{%- endmacro %}
