-- 个体工商户信用评价结果: one row per active individual business, in the credit-grade system (IBE).
{{ scoring_seed_dependencies() }}
{%- set indicator_scores = ref('int_indicator_scores') %}
{%- set plan = scoring_plan() %}
{%- if plan is none %}
-- parse time: the plan is read from the seeds only when the model is executed
select 1 as placeholder
{%- else %}
{%- set systems = plan.systems | selectattr('output_kind', 'equalto', 'credit_grade') | list %}
{%- if systems | length != 1 %}
{#- the contract table has no system_code column: one grade system only -#}
{{ exceptions.raise_compiler_error('expected exactly one credit_grade system in seed systems') }}
{%- endif %}
{%- for system in systems %}
select
    as_of,
    uscc,
    region_code,
    total_score,
    score_bas,
    score_ops,
    score_reg,
    score_fin,
    score_soc,
    score_eva,
    outcome as credit_grade,
    fired_rules,
    top_losses
from (
    {{ scoring_system_select(system, plan, indicator_scores) | indent(4) }}
) as {{ system.code | lower }}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
{%- endif %}
