{#- Generic data tests (no dbt_utils here: the package hub is out of reach). -#}

{#- Every listed score column is not null and within [0, 100]; one scan for all columns. -#}
{% test scores_between_0_and_100(model, column_names) %}
select *
from {{ model }}
where
    {%- for c in column_names %}
    {{ 'or ' if not loop.first }}{{ c }} is null or {{ c }} < 0 or {{ c }} > 100
    {%- endfor %}
{% endtest %}

{#- Rows where a boolean SQL expression does not hold. -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}

{#- Combinations of the listed columns that occur more than once. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
