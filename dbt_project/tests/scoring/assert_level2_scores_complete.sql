-- level2_scores holds the second-level scores of every active entity (int_indicator_scores at
-- as_of) in every system that applies to its entity type, and of nothing else: one row per
-- (entity, system). Duplicates are caught by its unique_per_key test.
with expected as (
    select
        s.uscc,
        sy.system_code
    from {{ ref('int_indicator_scores') }} as s
    inner join {{ ref('systems') }} as sy on s.entity_type = sy.entity_type
    where s.as_of = {{ as_of() }}
),

actual as (
    select
        uscc,
        system_code
    from {{ ref('level2_scores') }}
)

select
    coalesce(e.uscc, a.uscc) as uscc,
    coalesce(e.system_code, a.system_code) as system_code,
    case when a.uscc is null then 'no level-2 scores' else 'not an active entity of the system' end as problem
from expected as e
full outer join actual as a
    on
        e.uscc = a.uscc
        and e.system_code = a.system_code
where e.uscc is null or a.uscc is null
