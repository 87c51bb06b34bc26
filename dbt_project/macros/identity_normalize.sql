{#- Identifier normalisation that is plain string work, portable through adapter.dispatch where the SQL of
    engines differs (regular expressions). Phones need `phonenumbers`: see int_identity__record_identifiers.py. -#}

{#- An email as people mean it: trimmed and lowercased. -#}
{% macro identity_email_value(expr) -%}
    lower(trim({{ expr }}))
{%- endmacro %}

{#- The key emails match on: provider rules applied to the normalised value (gmail and googlemail ignore
    dots and anything from '+' in the local part, and are one domain). The normalised value is kept beside
    it, so an address keeps its original spelling. -#}
{% macro identity_email_match_key(expr) -%}
    case
        when {{ dbt.split_part(identity_email_value(expr), "'@'", 2) }} in ('gmail.com', 'googlemail.com')
            then replace({{ dbt.split_part(dbt.split_part(identity_email_value(expr), "'@'", 1), "'+'", 1) }}, '.', '')
                || '@gmail.com'
        else {{ identity_email_value(expr) }}
    end
{%- endmacro %}

{#- True when the whole of `expr` matches the regular expression `pattern` (a SQL string literal). -#}
{% macro identity_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('identity_full_match')(expr, pattern)) }}
{%- endmacro %}

{% macro default__identity_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__identity_full_match(expr, pattern) -%}
    ({{ expr }} ~ ('^(' || {{ pattern }} || ')$'))
{%- endmacro %}

{#- A syntactically valid address: one '@', a local part, a dotted domain, no spaces. -#}
{% macro identity_is_valid_email(expr) -%}
    coalesce({{ identity_full_match(identity_email_value(expr), "'[^@\\s]+@[^@\\s]+\\.[a-z]{2,}'") }}, false)
{%- endmacro %}
