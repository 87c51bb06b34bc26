{#- Identifier normalisation that is plain string work, portable through adapter.dispatch where the SQL of
    engines differs (regular expressions). What needs a maintained library (phones by `phonenumbers`, whether
    an email is an address by `email-validator`) is decided in int_identity__record_identifiers.py. -#}

{#- An email as people mean it: trimmed, lowercased, and without the one trailing dot of a fully qualified
    domain ('jo@gmail.com.' is jo@gmail.com). The mirror of cdp.identity.normalize.email_value, which
    int_identity__record_identifiers applies again (SQL's trim takes only spaces). -#}
{% macro identity_email_value(expr) -%}
    {%- set trimmed = 'lower(trim(' ~ expr ~ '))' -%}
    case
        when {{ dbt.right(trimmed, 1) }} = '.' then substr({{ trimmed }}, 1, {{ dbt.length(trimmed) }} - 1)
        else {{ trimmed }}
    end
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

{#- A first, portable look at an email's syntax: one '@', a local part, a dotted domain, no spaces, no dot
    doubled or next to the '@' or leading. Not the decision: int_identity__record_identifiers replaces it with
    email-validator's answer for every email, so identity and the ad platforms' hashing
    (reverse_etl/hashing.py) judge an address by one rule. -#}
{% macro identity_is_valid_email(expr) -%}
    {%- set value = identity_email_value(expr) -%}
    coalesce(
        {{ identity_full_match(value, "'[^@\\s]+@[^@\\s]+\\.[a-z]{2,}'") }}
        and not ({{ value }} like '%..%' or {{ value }} like '%.@%' or {{ value }} like '%@.%'
            or {{ value }} like '.%'),
        false
    )
{%- endmacro %}
