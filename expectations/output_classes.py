"""Output gate, `output.risk_classifications` and `output.credit_evaluations`.

One scan of each table, grouped by system (`subject` = system code), checks:
- total and the six first-level scores within [0, 100] and never null;
- the class (A–D) or grade (AAA–C) is one of the system's, from the seeds;
- the explanation is complete (indicators.md "Explanation"): `fired_rules` not null and made
  of the system's rule codes, R0 alone when it fires; `top_losses` exactly three distinct
  indicator codes; `region_code` present (exports and plans split by it).
"""

from __future__ import annotations

from credit_risk.gates.reference import System
from credit_risk.gates.suites import SuiteContext, SuiteSpec, each_between, sql_array

GATE = "output"

EXPLANATION_CHECKS = (
    ("null_fired_rules", "fired_rules missing (empty when no rule fired)"),
    ("unknown_fired_rules", "fired_rules holding codes that are not the system's rules"),
    ("r0_not_alone", "R0 fired together with another rule"),
    ("incomplete_top_losses", "top_losses not exactly three distinct indicator codes"),
    ("null_region_code", "region_code missing"),
)


def _case(column: str, mapping: dict[str, str], default: str) -> str:
    whens = " ".join(f"when '{k}' then {v}" for k, v in mapping.items())
    return f"(case {column} {whens} else {default} end)"


def _suite(
    ctx: SuiteContext, table: str, outcome: str, systems: tuple[System, ...], system_expr: str
) -> SuiteSpec:
    ref = ctx.reference
    scores = ["total_score"] + [f"score_{c.lower()}" for c in ref.level1_codes]
    allowed_outcomes = _case(
        system_expr, {s.code: sql_array(ref.classes[s.code]) for s in systems}, "'{}'::text[]"
    )
    allowed_rules = _case(
        system_expr, {s.code: sql_array(ref.rule_codes.get(s.code, ())) for s in systems}, "'{}'::text[]"
    )
    codes = sql_array(ref.indicator_codes)
    score_aggs = "".join(
        f",\n        min({c})::float8 as min_{c}, max({c})::float8 as max_{c}, count(*) - count({c}) as null_{c}"
        for c in scores
    )
    checks = [("null_" + c, f"null values of {c}") for c in scores] + [
        (f"bad_{outcome}", f"{outcome} not one of the system's"),
        *EXPLANATION_CHECKS,
    ]
    rows = ",\n        ".join(
        [f"(a.system || '/{c}', null::bigint, a.min_{c}, a.max_{c})" for c in scores]
        + [f"(a.system || '/{k}', a.{k}, null, null)" for k, _ in checks]
    )
    query = f"""
with a as (
    select
        coalesce({system_expr}, '(none)') as system,
        count(*) as rows{score_aggs},
        count(*) filter (where {outcome} is null or not ({outcome} = any({allowed_outcomes}))) as bad_{outcome},
        count(*) filter (where fired_rules is null) as null_fired_rules,
        count(*) filter (where not (fired_rules <@ {allowed_rules})) as unknown_fired_rules,
        count(*) filter (where 'R0' = any(fired_rules) and cardinality(fired_rules) > 1) as r0_not_alone,
        count(*) filter (where top_losses is null or cardinality(top_losses) <> 3
            or not (top_losses[1] = any({codes}) and top_losses[2] = any({codes}) and top_losses[3] = any({codes}))
            or top_losses[1] = top_losses[2] or top_losses[1] = top_losses[3] or top_losses[2] = top_losses[3])
            as incomplete_top_losses,
        count(*) filter (where region_code is null) as null_region_code
    from {table}
    where as_of = {ctx.as_of_sql}
    group by 1
)
select v.*
from a cross join lateral (values
        {rows}
    ) as v(subject, violations, min_score, max_score)
"""
    lo, hi = ctx.settings.score_min, ctx.settings.score_max
    names = ", ".join(f"{s.code}: {'/'.join(ref.classes[s.code])}" for s in systems)
    exp = [
        each_between("min_score", lo, hi, f"total and first-level scores are at least {lo:g}"),
        each_between("max_score", lo, hi, f"total and first-level scores are at most {hi:g}"),
        each_between(
            "violations", 0, 0, f"{outcome} valid ({names}) and explanation complete (subject: the check)"
        ),
    ]
    legend = "; ".join(f"{k}: {v}" for k, v in checks)
    return SuiteSpec(
        f"output.{table.split('.')[1]}",
        query,
        exp,
        f"{table} of {ctx.as_of}, per system (`subject` = <system>/<score or check>). "
        f"Each `violations` row counts rows failing one check (0 expected): {legend}",
    )


def suites(ctx: SuiteContext) -> list[SuiteSpec]:
    """The two result-table suites."""
    ref = ctx.reference
    grade_code = ref.grade_systems[0].code if ref.grade_systems else "IBE"
    return [
        _suite(ctx, "audit.risk_classifications", "risk_class", ref.class_systems, "system_code"),
        # credit_evaluations has no system column: every row is the grade system's
        _suite(ctx, "audit.credit_evaluations", "credit_grade", ref.grade_systems, f"'{grade_code}'::text"),
    ]
