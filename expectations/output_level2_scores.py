"""Output gate, `output.level2_scores`: the 20 second-level scores of every entity and system.

indicators.md "Explanation": for every scored entity and system keep the twenty
second-level scores. One scan of audit.level2_scores grouped by (system, level-2 code)
gives rows and nulls per code; each code of each system (from the seeds) must have exactly
one row per entity the system scored (risk_classifications per system, credit_evaluations
for the grade system), no unknown code may appear, no score may be null.
`subject` = `<system>/<level2_code>`.

The table is the largest of the build (20 rows per entity and system: ~100 M rows at full
scale), so only counts are taken: its range needs no scan of its own — a second-level
score is a weighted mean of third-level scores, which output.indicator_scores bounds, and
a mis-weighted one shows in the first-level and total scores output.risk_classifications
bounds.
"""

from __future__ import annotations

from credit_risk.gates.suites import SuiteContext, SuiteSpec, each_between

GATE = "output"


def suites(ctx: SuiteContext) -> list[SuiteSpec]:
    """The level-2 suite."""
    ref, d = ctx.reference, ctx.as_of_sql
    expected = ",\n        ".join(
        f"('{s.code}', '{code}')" for s in ref.systems for code in ref.level2_codes.get(s.code, ())
    )
    grade_counts = "\n    ".join(
        f"union all select '{s.code}', count(*) from audit.credit_evaluations where as_of = {d}"
        for s in ref.grade_systems
    )
    query = f"""
with expected as (
    select * from (values
        {expected}
    ) as e(system_code, level2_code)
),
entities as (
    select system_code, count(*) as n from audit.risk_classifications where as_of = {d} group by system_code
    {grade_counts}
),
observed as (
    select system_code, level2_code, count(*) as n, count(*) - count(score) as null_scores
    from audit.level2_scores
    where as_of = {d}
    group by system_code, level2_code
)
select
    coalesce(e.system_code, o.system_code, '(none)') || '/' || coalesce(e.level2_code, o.level2_code, '(none)')
        as subject,
    coalesce(o.n, 0) - case when e.level2_code is null then 0 else coalesce(n.n, 0) end as rows_missing_or_extra,
    coalesce(o.null_scores, 0) as null_scores
from expected e
full join observed o on o.system_code = e.system_code and o.level2_code = e.level2_code
left join entities n on n.system_code = coalesce(e.system_code, o.system_code)
"""
    exp = [
        each_between(
            "rows_missing_or_extra",
            0,
            0,
            "one row per entity of the system for each of its level-2 codes, no other",
        ),
        each_between("null_scores", 0, 0, "no second-level score is null"),
    ]
    return [SuiteSpec("output.level2_scores", query, exp, f"audit.level2_scores of {ctx.as_of}")]
