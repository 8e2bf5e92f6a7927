{#- Time windows of indicators.md ("Time" and "Exact readings"), relative to as_of(). -#}

{#- as_of − N months, calendar arithmetic with the day clamped to the month's length,
    exactly PostgreSQL's `as_of - interval 'N months'` (2025-06-30 − 3 months = 2025-03-30). -#}
{% macro months_before(months) -%}
    ({{ as_of() }} - interval '{{ months }} months')::date
{%- endmacro %}

{#- "Nm" window: as_of − N months < d ≤ as_of. -#}
{% macro within_months(date_expr, months) -%}
    ({{ date_expr }} > {{ months_before(months) }} and {{ date_expr }} <= {{ as_of() }})
{%- endmacro %}

{#- The month of as_of (its first day): the last of the "12 periods" of the monthly feeds. -#}
{% macro as_of_month() -%}
    date_trunc('month', {{ as_of() }}::timestamp)::date
{%- endmacro %}

{#- "12 periods": the 12 monthly periods ending with the month of as_of (period = first day of a month). -#}
{% macro within_12_periods(period_expr) -%}
    ({{ period_expr }} between (date_trunc('month', {{ as_of() }}::timestamp) - interval '11 months')::date
        and {{ as_of_month() }})
{%- endmacro %}

{#- Report year Y of annual reports: year(as_of) − 1 when as_of is on or after 30 June of its
    year, else year(as_of) − 2. -#}
{% macro report_year_y() -%}
    (extract(year from {{ as_of() }})::integer
        - case when {{ as_of() }} >= make_date(extract(year from {{ as_of() }})::integer, 6, 30) then 1 else 2 end)
{%- endmacro %}
