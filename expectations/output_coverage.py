"""Output gate, `output.coverage`: every active entity exactly once per applicable system.

indicators.md v1: "Every active entity gets exactly one risk class per as_of; every active
individual business also gets one credit grade." The populations compared:
- the registry: active at as_of by the spec's exact reading (`established_on <= as_of` and
  `status = active`, or a non-active status changed after as_of), from the current
  registration snapshot (`staging.stg_samr__registration`, one row per uscc — its dbt
  unique test is part of the gate) — an independent count of what dbt had to score;
- audit.indicator_scores, audit.risk_classifications, audit.credit_evaluations of the as_of.

Key sets are compared without joining or sorting millions of keys: each table is scanned
once for its row count and the exact sum of a 64-bit hash of each uscc (xor-ed with a
constant per entity type). Equal multisets give equal fingerprints; a missing, extra,
duplicated or re-typed entity changes the count or the sum (that an accidental error
leaves a 64-bit hash sum unchanged is not a practical concern). Together with the registry's one row per uscc this is "exactly once"; the
primary keys of published.* enforce uniqueness again when the rows are copied.
A class row's system (and version) must be the one the seeds assign to its entity type.
"""

from __future__ import annotations

from credit_risk.gates.suites import SuiteContext, SuiteSpec, at_least, each_between

GATE = "output"

CHECKS = (
    ("scored_minus_active", "indicator-score rows minus registry entities active at as_of"),
    ("scored_keys_differ_from_active", "1 when the scored entities (uscc, type) are not the active ones"),
    ("classified_minus_scored", "risk-class rows minus scored entities"),
    (
        "classified_keys_differ_from_scored",
        "1 when the classified entities (uscc, type) are not the scored ones",
    ),
    ("classes_in_wrong_system", "classes from a system (or version) other than the entity type's"),
    ("graded_minus_individuals", "credit-grade rows minus scored individual businesses"),
    (
        "graded_keys_differ_from_individuals",
        "1 when the graded entities are not the scored individual businesses",
    ),
)


def _fingerprint(hashed: str, where: str = "") -> str:
    """Row count and the sum of a 64-bit hash per row (exact, in numeric)."""
    cond = f" filter (where {where})" if where else ""
    return f"count(*){cond}, coalesce(sum({hashed}){cond}, 0)"


def _type_constant(position: int) -> int:
    """A fixed, well-spread 63-bit constant for the entity type at `position` (golden-ratio multiples)."""
    return (0x9E3779B97F4A7C15 * (position + 1)) % (1 << 63)


def suites(ctx: SuiteContext) -> list[SuiteSpec]:
    """The coverage suite."""
    ref, d = ctx.reference, ctx.as_of_sql
    system_of = " ".join(f"when '{s.entity_type}' then '{s.code}'" for s in ref.class_systems)
    version_of = " ".join(f"when '{s.code}' then '{s.version}'" for s in ref.class_systems)
    graded = ", ".join(f"'{s.entity_type}'" for s in ref.grade_systems) or "null"
    types = list(dict.fromkeys(x.entity_type for x in ref.systems))
    constant = {t: _type_constant(i) for i, t in enumerate(types)}
    mix = " ".join(f"when '{t}' then {c}" for t, c in constant.items())
    # hash(uscc) xor a constant of its entity type: a re-typed entity changes the sum too
    typed = f"(hashtextextended(uscc::text, 0) # (case entity_type {mix} else 0 end))"
    graded_type = ref.grade_systems[0].entity_type if ref.grade_systems else "individual"
    graded_hash = f"(hashtextextended(uscc::text, 0) # {constant.get(graded_type, 0)})"
    values = ",\n        ".join(f"('{k}', c.{k}, null, null)" for k, _ in CHECKS)
    query = f"""
with registry(n, h) as (
    select {_fingerprint(typed)}
    from staging.stg_samr__registration
    where established_on <= {d} and (status = 'active' or status_changed_on > {d})
),
scores(n, h, gn, gh) as (
    select {_fingerprint(typed)}, {_fingerprint(typed, f"entity_type in ({graded})")}
    from audit.indicator_scores where as_of = {d}
),
classes(n, h, wrong) as (
    select {_fingerprint(typed)},
        count(*) filter (where system_code is distinct from (case entity_type {system_of} end)
            or system_version is distinct from (case system_code {version_of} end))
    from audit.risk_classifications where as_of = {d}
),
grades(n, h) as (
    select {_fingerprint(graded_hash)} from audit.credit_evaluations where as_of = {d}
),
c as (
    select
        s.n as entities_scored,
        r.n as active_entities,
        s.n - r.n as scored_minus_active,
        (s.h is distinct from r.h)::int::bigint as scored_keys_differ_from_active,
        k.n - s.n as classified_minus_scored,
        (k.h is distinct from s.h)::int::bigint as classified_keys_differ_from_scored,
        k.wrong as classes_in_wrong_system,
        g.n - s.gn as graded_minus_individuals,
        (g.h is distinct from s.gh)::int::bigint as graded_keys_differ_from_individuals
    from registry r cross join scores s cross join classes k cross join grades g
)
select v.*
from c cross join lateral (values
        ('entities', null::bigint, c.entities_scored, c.active_entities),
        {values}
    ) as v(subject, violations, entities_scored, active_entities)
"""
    exp = [
        at_least("entities_scored", 1, "the audit build scored entities for this as_of"),
        each_between(
            "violations", 0, 0, "every active entity exactly once per applicable system (subject: the check)"
        ),
    ]
    legend = "; ".join(f"{k}: {v}" for k, v in CHECKS)
    return [
        SuiteSpec(
            "output.coverage",
            query,
            exp,
            f"every active entity exactly once per applicable system, as_of {ctx.as_of}. "
            f"Each row of `violations` counts one check's violations (0 expected): {legend}",
        )
    ]
