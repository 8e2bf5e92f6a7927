-- 二级指标得分: the twenty level-2 scores of every active entity in every system that applies
-- to it, wide: one row per (entity, system), one column per level-2 code (bas1 … eva4), exact
-- rationals shown rounded half up to 10 decimals.
{{ scoring_seed_dependencies() }}
{%- set indicator_scores = ref('int_indicator_scores') %}
{%- set plan = scoring_plan() %}
{%- if plan is none %}
-- parse time: the plan is read from the seeds only when the model is executed
select 1 as placeholder
{%- else %}
{%- for system in plan.systems %}
{{ scoring_level2_select(system, plan, indicator_scores) }}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
{%- endif %}
