-- 三级指标得分: the 44 indicator scores of every active entity at as_of (the audit copy of
-- int_indicator_scores, narrowed to the published columns).
{{ scoring_seed_dependencies() }}
{%- set indicator_columns = scoring_indicator_columns() %}
select
    as_of,
    uscc,
    entity_type,
    region_code,
    {%- for c in indicator_columns %}
    {{ c }}{% if not loop.last %},{% endif %}
    {%- endfor %}
from {{ ref('int_indicator_scores') }}
where as_of = {{ as_of() }}
