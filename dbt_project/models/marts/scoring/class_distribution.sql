-- 分类结果分布: entities per class (or grade) per system and entity type at as_of, every
-- class listed even when empty; for the gates' drift check and the run summary.
{%- set plan_systems = ref('systems') %}
with outcomes as (
    select
        system_code,
        entity_type,
        'risk_class' as output_kind,
        risk_class as outcome
    from {{ ref('risk_classifications') }}
    union all
    select
        s.system_code,
        s.entity_type,
        s.output_kind,
        e.credit_grade as outcome
    from {{ ref('credit_evaluations') }} as e
    -- credit_evaluations carries no system_code: the only credit-grade system (enforced there)
    cross join {{ plan_systems }} as s
    where s.output_kind = 'credit_grade'
),

categories as (
    select
        s.system_code,
        s.entity_type,
        s.output_kind,
        b.risk_class as outcome,
        b.severity_rank
    from {{ plan_systems }} as s
    inner join {{ ref('risk_class_bands') }} as b
        on s.system_code = b.system_code and s.system_version = b.system_version
    where s.output_kind = 'risk_class'
    union all
    select
        s.system_code,
        s.entity_type,
        s.output_kind,
        b.credit_grade as outcome,
        b.severity_rank
    from {{ plan_systems }} as s
    inner join {{ ref('credit_grade_bands') }} as b
        on s.system_code = b.system_code and s.system_version = b.system_version
    where s.output_kind = 'credit_grade'
),

counts as (
    select
        system_code,
        outcome,
        count(*) as entities
    from outcomes
    group by system_code, outcome
),

shares as (
    select
        c.system_code,
        c.entity_type,
        c.output_kind,
        c.outcome,
        c.severity_rank,
        coalesce(n.entities, 0) as entities,
        sum(coalesce(n.entities, 0)) over (partition by c.system_code) as system_entities
    from categories as c
    left join counts as n
        on c.system_code = n.system_code and c.outcome = n.outcome
)

select
    {{ as_of() }} as as_of,
    system_code,
    entity_type,
    output_kind,
    outcome,
    severity_rank,
    entities,
    -- share of the system's entities, rounded half up to 6 decimals (null when none)
    case
        when system_entities > 0
            then div(2000000 * entities + system_entities, 2 * system_entities) * 0.000001
    end as share
from shares
