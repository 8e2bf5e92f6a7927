-- Every row of int_indicator_scores at as_of (the active entities) is in the output of every
-- system that applies to its entity type, and nothing else is: the risk class once
-- (risk_classifications) and, for individual businesses, the credit grade once
-- (credit_evaluations). Duplicates are caught by the unique_per_key tests.
with entities as (
    select
        s.uscc,
        sy.system_code,
        sy.output_kind
    from {{ ref('int_indicator_scores') }} as s
    inner join {{ ref('systems') }} as sy on s.entity_type = sy.entity_type
    where s.as_of = {{ as_of() }}
),

outputs as (
    select
        uscc,
        system_code,
        'risk_class' as output_kind
    from {{ ref('risk_classifications') }}
    union all
    select
        e.uscc,
        sy.system_code,
        sy.output_kind
    from {{ ref('credit_evaluations') }} as e
    cross join {{ ref('systems') }} as sy
    where sy.output_kind = 'credit_grade'
)

select
    coalesce(e.uscc, o.uscc) as uscc,
    coalesce(e.system_code, o.system_code) as system_code,
    case when o.uscc is null then 'not scored' else 'not an active entity of the system' end as problem
from entities as e
full outer join outputs as o
    on
        e.uscc = o.uscc
        and e.system_code = o.system_code
        and e.output_kind = o.output_kind
where e.uscc is null or o.uscc is null
