"""Output gate, `output.level2_scores`: the 20 second-level scores of every entity and system.

indicators.md "Explanation": for every scored entity and system keep the twenty
second-level scores. audit.level2_scores is wide: one row per (entity, system), one column
per second-level code (bas1 … eva4). One scan of it grouped by system gives, per system, the
row count, a fingerprint of its entities (the exact sum of a 64-bit hash of each uscc, as in
output.coverage) and min, max and nulls of every code's column. Each system of the seeds
must have exactly one row per entity it scored (risk_classifications per system,
credit_evaluations for the grade system): same count and same fingerprint, so a missing,
extra or duplicated entity shows (published.level2_scores' primary key enforces uniqueness
again). No other system may appear, no score may be null, every score lies in [0, 100].
`subject` = `<system>/<check>` or `<system>/<level2_code>`.
"""

from __future__ import annotations

from credit_risk.gates.suites import SuiteContext, SuiteSpec, each_between

GATE = "output"

CHECKS = (
    ("rows_missing_or_extra", "level-2 rows minus entities the system scored"),
    ("keys_differ_from_entities", "1 when the entities with level-2 rows are not the ones the system scored"),
)
_HASH = "hashtextextended(uscc::text, 0)"


def suites(ctx: SuiteContext) -> list[SuiteSpec]:
    """The level-2 suite."""
    ref, d = ctx.reference, ctx.as_of_sql
    # the columns: every system weights all twenty codes of the library (seed tests)
    cols = [
        c.lower() for c in dict.fromkeys(c for s in ref.systems for c in ref.level2_codes.get(s.code, ()))
    ]
    systems = ", ".join(f"('{s.code}')" for s in ref.systems)
    grade_entities = "".join(
        f"\n    union all select '{s.code}', count(*), coalesce(sum({_HASH}), 0) "
        f"from audit.credit_evaluations where as_of = {d}"
        for s in ref.grade_systems
    )
    aggs = "".join(
        f",\n        min({c}) as min_{c}, max({c}) as max_{c}, count(*) - count({c}) as null_{c}"
        for c in cols
    )
    carried = "".join(f", x.min_{c}, x.max_{c}, x.null_{c}" for c in cols)
    values = ",\n        ".join(
        [
            "(o.system_code || '/rows_missing_or_extra', o.n - coalesce(e.n, 0), null::float8, null::float8, null)",
            "(o.system_code || '/keys_differ_from_entities', (o.h is distinct from coalesce(e.h, 0))::int::bigint,"
            " null, null, null)",
        ]
        + [
            f"(o.system_code || '/{c.upper()}', null, o.min_{c}::float8, o.max_{c}::float8, o.null_{c})"
            for c in cols
        ]
    )
    query = f"""
with entities(system_code, n, h) as (
    select system_code, count(*), coalesce(sum({_HASH}), 0)
    from audit.risk_classifications where as_of = {d} group by system_code{grade_entities}
),
observed as (
    select system_code, count(*) as n, coalesce(sum({_HASH}), 0) as h{aggs}
    from audit.level2_scores
    where as_of = {d}
    group by system_code
),
o as (
    -- every system of the seeds (n = 0 when it has no rows), and any other system that has rows
    select coalesce(s.system_code, x.system_code, '(none)') as system_code, coalesce(x.n, 0) as n,
        coalesce(x.h, 0) as h{carried}
    from (values {systems}) as s(system_code)
    full join observed x on x.system_code = s.system_code
)
select v.*
from o
left join entities e on e.system_code = o.system_code
cross join lateral (values
        {values}
    ) as v(subject, violations, min_score, max_score, null_scores)
"""
    lo, hi = ctx.settings.score_min, ctx.settings.score_max
    exp = [
        each_between(
            "violations",
            0,
            0,
            "one row per entity the system scored, no other (subject: system/check)",
        ),
        each_between("min_score", lo, hi, f"second-level scores are at least {lo:g}"),
        each_between("max_score", lo, hi, f"second-level scores are at most {hi:g}"),
        each_between("null_scores", 0, 0, "no second-level score is null"),
    ]
    legend = "; ".join(f"{k}: {v}" for k, v in CHECKS)
    return [
        SuiteSpec(
            "output.level2_scores",
            query,
            exp,
            f"the 20 second-level scores of every entity and system, within [{lo:g}, {hi:g}], as_of {ctx.as_of}. "
            f"Each row of `violations` counts one check's violations (0 expected): {legend}",
        )
    ]
