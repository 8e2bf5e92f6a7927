"""Output gate, `output.drift`: class and grade shares against the previous published as_of.

Every risk-class share within its system (ENT, IND, COOP) and every credit-grade share (IBE)
must stay within `output.drift_max_points` percentage points (default 2) of the previous
published as_of — the latest as_of before this one with a successful publication — unless
a drift approval is recorded for this as_of (`credit-risk approve --as-of D --reason T`);
then the bound is lifted to 100 and the approval is named in the suite. The first as_of
has no previous one: drift is null (not compared) and the suite passes.

The previous distribution comes from the ledger (`published.publications.class_counts`,
written in the same transaction as the published rows), so only the audit tables are
scanned. `subject` = `<system>/<class>`.
"""

from __future__ import annotations

from credit_risk.gates.suites import SuiteContext, SuiteSpec, each_between

GATE = "output"


def suites(ctx: SuiteContext) -> list[SuiteSpec]:
    """The drift suite."""
    ref, d = ctx.reference, ctx.as_of_sql
    pairs = ",\n        ".join(f"('{s.code}', '{c}')" for s in ref.systems for c in ref.classes[s.code])
    grade_current = "\n    ".join(
        f"union all select '{s.code}', credit_grade, count(*) from audit.credit_evaluations "
        f"where as_of = {d} group by credit_grade"
        for s in ref.grade_systems
    )
    previous_id = ctx.previous_publication_id if ctx.previous_publication_id is not None else -1
    query = f"""
with classes as (
    select * from (values
        {pairs}
    ) as v(system_code, class)
),
current_counts as (
    select system_code, risk_class as class, count(*) as n
    from audit.risk_classifications where as_of = {d} group by system_code, risk_class
    {grade_current}
),
previous_counts as (
    select s.key as system_code, c.key as class, c.value::bigint as n
    from published.publications p
    cross join lateral jsonb_each(p.class_counts) as s
    cross join lateral jsonb_each_text(s.value) as c
    where p.publication_id = {previous_id}
),
joined as (
    select
        coalesce(k.system_code, cur.system_code, prev.system_code) as system_code,
        coalesce(k.class, cur.class, prev.class, '(null)') as class,
        coalesce(cur.n, 0) as n_current,
        prev.n as n_previous_raw
    from classes k
    full join current_counts cur on cur.system_code = k.system_code and cur.class is not distinct from k.class
    full join previous_counts prev
        on prev.system_code = coalesce(k.system_code, cur.system_code) and prev.class = coalesce(k.class, cur.class)
),
shares as (
    select
        system_code, class,
        100.0 * n_current / nullif(sum(n_current) over (partition by system_code), 0) as current_share,
        case when {previous_id} > 0 then
            100.0 * coalesce(n_previous_raw, 0)
            / nullif(sum(coalesce(n_previous_raw, 0)) over (partition by system_code), 0)
        end as previous_share
    from joined
)
select
    system_code || '/' || class as subject,
    round(current_share, 4)::float8 as current_share_points,
    round(previous_share, 4)::float8 as previous_share_points,
    round(abs(coalesce(current_share, 0) - previous_share), 4)::float8 as drift_points
from shares
"""
    limit = ctx.settings.drift_max_points
    if ctx.previous_as_of is None:
        about = "no previous published as_of: nothing to compare"
    else:
        about = (
            f"against the published as_of {ctx.previous_as_of} (publication {ctx.previous_publication_id})"
        )
    if ctx.drift_approval:
        a = ctx.drift_approval
        limit_used = 100.0
        about += f"; drift approved by {a.get('approved_by')} at {a.get('approved_at')}: {a.get('reason')}"
        why = f"drift approved for {ctx.as_of} by {a.get('approved_by')}: {a.get('reason')}"
    else:
        limit_used = limit
        why = f"every class and grade share within {limit:g} points of the previous published as_of"
    exp = [each_between("drift_points", 0, limit_used, why)]
    return [SuiteSpec("output.drift", query, exp, about)]
