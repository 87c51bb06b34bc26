{#- Reading a vendor's raw table through its declared columns.

    dlt creates a table, a child table or a column only when data for it arrives: a young shop has no
    `orders__refunds`, a CRM without companies no `companies`, a Klaviyo account whose profiles carry no
    external id no `attributes__external_id`. Each staging model therefore reads its source through
    `declared_source`, which selects exactly the columns declared on that source table in the sources YAML
    (`columns:` with a `data_type`):
    - a declared column the table has is read as it is;
    - a declared column the table lacks is a typed null;
    - an absent table is an empty relation with every declared column.
    A column a staging model reads but the YAML does not declare fails the build (it is not in the relation),
    so the declaration stays complete; `tests/dbt/test_declared_sources.py` builds staging on an empty
    warehouse to prove it. -#}
{% macro declared_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set declared = cdp_declared_columns(source_name, table_name) -%}
    {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- set present = [] -%}
    {%- if existing is not none -%}
        {%- for column in adapter.get_columns_in_relation(existing) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    (
        select
        {%- for column in declared %}
            {% if column.name | lower in present -%}
                {{ adapter.quote(column.name) }}
            {%- else -%}
                cast(null as {{ cdp_column_type(column.data_type) }})
            {%- endif %} as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
        {% if existing is not none -%}
        from {{ relation }}
        {%- else -%}
        -- {{ relation }} does not exist yet: the vendor has sent no {{ table_name }} to this account.
        from (select 1 as no_rows) as absent where 1 = 0
        {%- endif %}
    )
{%- endmacro %}


{#- The declared columns of one source table, in the order the YAML lists them; a table without any is a
    mistake in the project, reported with the file to fix. -#}
{% macro cdp_declared_columns(source_name, table_name) -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.source_name == source_name and node.name == table_name -%}
            {%- set columns = node.columns.values() | list -%}
            {%- for column in columns if not column.data_type -%}
                {{- exceptions.raise_compiler_error(
                    "source " ~ source_name ~ "." ~ table_name ~ ", column " ~ column.name ~ ": no data_type; "
                    ~ "declare one in " ~ node.original_file_path) -}}
            {%- endfor -%}
            {%- if not columns -%}
                {{- exceptions.raise_compiler_error(
                    "source " ~ source_name ~ "." ~ table_name ~ " declares no columns; list the columns the "
                    ~ "staging models read in " ~ node.original_file_path) -}}
            {%- endif -%}
            {{- return(columns) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- exceptions.raise_compiler_error("unknown source " ~ source_name ~ "." ~ table_name) -}}
{%- endmacro %}


{#- A declared type (text, bigint, double, boolean, timestamp, date, json, decimal) in the warehouse's own
    words. Timestamps from the vendors carry their zone, and dlt loads them as such. -#}
{% macro cdp_column_type(declared) -%}
    {{ return(adapter.dispatch('cdp_column_type', 'cdp')(declared)) }}
{%- endmacro %}

{% macro default__cdp_column_type(declared) -%}
    {%- set types = {
        'text': dbt.type_string(), 'bigint': dbt.type_bigint(), 'double': dbt.type_float(),
        'boolean': dbt.type_boolean(), 'timestamp': dbt.type_timestamp(), 'date': 'date',
        'json': dbt.type_string(), 'decimal': dbt.type_numeric()} -%}
    {%- if declared not in types -%}
        {{- exceptions.raise_compiler_error("unknown declared type " ~ declared ~ "; use one of " ~ types.keys() | list) -}}
    {%- endif -%}
    {{- types[declared] -}}
{%- endmacro %}

{% macro duckdb__cdp_column_type(declared) -%}
    {%- set own = {'timestamp': 'timestamp with time zone', 'json': 'json', 'double': 'double',
                   'decimal': 'decimal(38, 9)', 'text': 'varchar'} -%}
    {{- own.get(declared) or default__cdp_column_type(declared) -}}
{%- endmacro %}
