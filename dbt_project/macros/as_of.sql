{#- The evaluation date as a SQL date literal. var('as_of') or, by default, the last
    day of the previous month (Asia/Shanghai). -#}
{% macro as_of() -%}
    {%- set v = var('as_of', none) -%}
    {%- if v -%}
        date '{{ v }}'
    {%- else -%}
        (date_trunc('month', (now() at time zone 'Asia/Shanghai'))::date - 1)
    {%- endif -%}
{%- endmacro %}
