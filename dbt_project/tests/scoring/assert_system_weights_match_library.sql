-- Every system weighs every node of the indicator library exactly once, under the parent the
-- library gives it: each first-level code, each second-level code within its first-level
-- parent, each indicator within its second-level parent. Returns what is missing or misplaced.
with library as (
    select distinct
        indicator_code,
        level2_code,
        level1_code
    from {{ ref('indicator_library') }}
),

level1_nodes as (
    select distinct level1_code
    from library
),

level2_nodes as (
    select distinct
        level2_code,
        level1_code
    from library
),

expected as (
    select
        s.system_code,
        s.system_version,
        'level1' as node_level,
        l.level1_code as node,
        null as parent
    from {{ ref('systems') }} as s
    cross join level1_nodes as l
    union all
    select
        s.system_code,
        s.system_version,
        'level2' as node_level,
        l.level2_code as node,
        l.level1_code as parent
    from {{ ref('systems') }} as s
    cross join level2_nodes as l
    union all
    select
        s.system_code,
        s.system_version,
        'level3' as node_level,
        l.indicator_code as node,
        l.level2_code as parent
    from {{ ref('systems') }} as s
    cross join library as l
),

actual as (
    select
        system_code,
        system_version,
        'level1' as node_level,
        level1_code as node,
        null as parent
    from {{ ref('system_level1_weights') }}
    union all
    select
        system_code,
        system_version,
        'level2' as node_level,
        level2_code as node,
        level1_code as parent
    from {{ ref('system_level2_weights') }}
    union all
    select
        system_code,
        system_version,
        'level3' as node_level,
        indicator_code as node,
        level2_code as parent
    from {{ ref('system_level3_weights') }}
),

missing as (
    select
        system_code,
        system_version,
        node_level,
        node,
        parent
    from expected
    except all
    select
        system_code,
        system_version,
        node_level,
        node,
        parent
    from actual
),

unexpected as (
    select
        system_code,
        system_version,
        node_level,
        node,
        parent
    from actual
    except all
    select
        system_code,
        system_version,
        node_level,
        node,
        parent
    from expected
)

select
    'missing' as problem,
    missing.*
from missing
union all
select
    'unexpected' as problem,
    unexpected.*
from unexpected
