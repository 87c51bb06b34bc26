{#- Models land in the schema they name (`staging`, `marts`), not `<target>_<schema>`: the schema names are
    the product's public contract and must not depend on the target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
