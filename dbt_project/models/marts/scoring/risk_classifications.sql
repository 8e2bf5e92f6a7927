-- 信用风险分类结果: one row per active entity, in the risk-class system of its entity type
-- (ENT enterprise, IND individual business, COOP cooperative).
{{ scoring_seed_dependencies() }}
{%- set indicator_scores = ref('int_indicator_scores') %}
{%- set plan = scoring_plan() %}
{%- if plan is none %}
-- parse time: the plan is read from the seeds only when the model is executed
select 1 as placeholder
{%- else %}
{%- set systems = plan.systems | selectattr('output_kind', 'equalto', 'risk_class') | list %}
{%- if systems | length == 0 %}
{{ exceptions.raise_compiler_error('no risk_class system in seed systems') }}
{%- endif %}
{%- for system in systems %}
select
    as_of,
    uscc,
    entity_type,
    region_code,
    system_code,
    system_version,
    total_score,
    score_bas,
    score_ops,
    score_reg,
    score_fin,
    score_soc,
    score_eva,
    outcome as risk_class,
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
