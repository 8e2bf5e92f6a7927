{#-
    dbt-postgres reports array columns as data type "ARRAY" (information_schema), so dbt's
    unit-test fixtures render `cast('{R1}' as ARRAY)`, a syntax error (dbt-adapters issue
    #939). The scoring marts' arrays (fired_rules, top_losses) are text[]: cast "ARRAY" to
    text[] so unit tests can state them as PostgreSQL array literals, e.g. '{R1,R3}'.
    Every other type is cast exactly as dbt's default__safe_cast does.
-#}
{% macro postgres__safe_cast(field, type) -%}
    {%- if type == 'ARRAY' -%}
        cast({{ field }} as text[])
    {%- else -%}
        cast({{ field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
