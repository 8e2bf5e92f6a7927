{#- Every row satisfies the SQL boolean `expression` (a null result counts as a failure). -#}
{% test all_rows_satisfy(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
