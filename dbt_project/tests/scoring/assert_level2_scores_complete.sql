-- level2_scores holds every second-level score of every active entity in every system that
-- applies to it: per system, (entities of its type) x (second-level codes in the library) rows.
-- A count per system, not a key check: the table has ~20 rows per entity and system.
with level2_codes as (
    select count(distinct level2_code) as codes
    from {{ ref('indicator_library') }}
),

expected as (
    select
        sy.system_code,
        count(*) * min(c.codes) as score_rows
    from {{ ref('int_indicator_scores') }} as s
    inner join {{ ref('systems') }} as sy on s.entity_type = sy.entity_type
    cross join level2_codes as c
    where s.as_of = {{ as_of() }}
    group by sy.system_code
),

actual as (
    select
        system_code,
        count(*) as score_rows
    from {{ ref('level2_scores') }}
    group by system_code
)

select
    coalesce(e.system_code, a.system_code) as system_code,
    e.score_rows as expected_rows,
    a.score_rows as actual_rows
from expected as e
full outer join actual as a on e.system_code = a.system_code
where e.score_rows is distinct from a.score_rows
