"""Output gate, `output.indicator_scores`: i01 … i44 of every entity within [0, 100], never null.

One scan of audit.indicator_scores computes min, max and nulls of the 44 columns; the query
turns that one row into 44 rows (`subject` = indicator code) so a failure names the code.
"""

from __future__ import annotations

from credit_risk.gates.suites import SuiteContext, SuiteSpec, each_between, each_not_null

GATE = "output"


def suites(ctx: SuiteContext) -> list[SuiteSpec]:
    """The indicator-score suite."""
    codes = ctx.reference.indicator_codes
    cols = [c.lower() for c in codes]
    aggs = ",\n        ".join(
        f"min({c}) as min_{c}, max({c}) as max_{c}, count(*) - count({c}) as null_{c}" for c in cols
    )
    values = ",\n        ".join(
        f"('{code}', a.min_{c}, a.max_{c}, a.null_{c})" for code, c in zip(codes, cols, strict=True)
    )
    query = f"""
with a as (
    select
        {aggs}
    from audit.indicator_scores
    where as_of = {ctx.as_of_sql}
)
select v.subject, v.min_score::float8 as min_score, v.max_score::float8 as max_score, v.null_scores
from a cross join lateral (values
        {values}
    ) as v(subject, min_score, max_score, null_scores)
"""
    lo, hi = ctx.settings.score_min, ctx.settings.score_max
    exp = [
        each_not_null("min_score", "every indicator has scores (an empty build has none)"),
        each_between("min_score", lo, hi, f"indicator scores are at least {lo:g}"),
        each_between("max_score", lo, hi, f"indicator scores are at most {hi:g}"),
        each_between("null_scores", 0, 0, "no indicator score is null (no data gets the neutral score)"),
    ]
    return [
        SuiteSpec(
            "output.indicator_scores", query, exp, f"i01 … i44 within [{lo:g}, {hi:g}], as_of {ctx.as_of}"
        )
    ]
