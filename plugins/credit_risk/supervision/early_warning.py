"""Monitoring and early warning (监测预警) and automatic dispatch (自动研判、派发), supervision.md §2.

The 22 rules are configuration (supervision.yml: id, name, SQL, threshold, severity, dispatch
threshold, verifying unit). Each rule run at an as_of is one warning batch; its hits are kept
with their evidence. For each rule and prefecture whose hits reach the rule's dispatch
threshold, a dispatch batch holds the hit entities as verification tasks, staffed as in §1 from
the verifying unit's inspectors, ordered by the dispatch batch's own seed (drawn once per
dispatch batch id and kept, so a retry staffs the same inspectors).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from credit_risk.supervision.settings import Settings, WarningRule
from credit_risk.supervision.sqlutil import copy_rows, new_seed, temp_table
from credit_risk.supervision.staffing import staff


def rule_params(
    settings: Settings, rule: WarningRule, as_of: dt.date, previous_as_of: dt.date | None
) -> dict[str, Any]:
    """The parameters a rule's SQL is bound with."""
    return {
        "as_of": as_of,
        "threshold": rule.threshold,
        "previous_as_of": previous_as_of,
        "high_risk_divisions": list(settings.high_risk_divisions),
        **rule.params,
    }


def prepare_tables(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> None:
    """The per-run temporary tables the rules read (monthly feeds over the 12 periods)."""
    for t in settings.prepared_tables:
        temp_table(conn, t.name, t.sql, {"as_of": as_of})
        conn.execute(f"create index on {t.name} (uscc)")


def run_rule(
    conn: psycopg.Connection,
    settings: Settings,
    rule: WarningRule,
    as_of: dt.date,
    previous_as_of: dt.date | None,
) -> int:
    """Run one rule at as_of: its hits into supervision.warning_hits, its warning batch row; returns hits."""
    params = rule_params(settings, rule, as_of, previous_as_of)
    params["_rule_id"] = rule.id
    hits = conn.execute(
        f"""
        insert into supervision.warning_hits (as_of, rule_id, uscc, prefecture, risk_class, evidence)
        select distinct on (a.uscc) %(as_of)s, %(_rule_id)s, a.uscc, a.prefecture, a.risk_class,
               coalesce(h.evidence, '{{}}'::jsonb)
        from (
{rule.sql}
        ) as h
        join active_entities as a on a.uscc = h.uscc
        order by a.uscc
        """,
        params,
    ).rowcount
    conn.execute(
        """
        insert into supervision.warning_batches
            (as_of, batch_id, rule_id, rule_name, severity, threshold, dispatch_threshold, verifying_unit,
             hits, prefectures)
        select %(as_of)s, %(batch_id)s, %(rule_id)s, %(name)s, %(severity)s, %(threshold)s, %(dispatch)s,
               %(unit)s, count(*), count(distinct h.prefecture)
        from supervision.warning_hits as h
        where h.as_of = %(as_of)s and h.rule_id = %(rule_id)s
        """,
        {
            "as_of": as_of,
            "batch_id": f"WB-{as_of:%Y%m%d}-{rule.id}",
            "rule_id": rule.id,
            "name": rule.name,
            "severity": rule.severity,
            "threshold": rule.threshold,
            "dispatch": rule.dispatch_threshold,
            "unit": rule.verifying_unit,
        },
    )
    return max(hits, 0)


def dispatch(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> dict[str, int]:
    """Dispatch batches per rule and prefecture whose hits reach the dispatch threshold, with staffed
    verification tasks; returns counts."""
    rules = {
        r.id: {"dispatch_threshold": r.dispatch_threshold, "verifying_unit": r.verifying_unit}
        for r in settings.rules
    }
    from psycopg.types.json import Jsonb

    p = {"as_of": as_of, "rules": Jsonb(rules), "stamp": f"{as_of:%Y%m%d}"}
    temp_table(
        conn,
        "sup_dispatch",
        """
        select 'DB-' || %(stamp)s || '-' || h.rule_id || '-' || h.prefecture as dispatch_id,
               h.rule_id, h.prefecture, r.value ->> 'verifying_unit' as verifying_unit, count(*) as entities
        from supervision.warning_hits as h
        join jsonb_each(%(rules)s) as r on r.key = h.rule_id
        where h.as_of = %(as_of)s
        group by h.rule_id, h.prefecture, r.value
        having count(*) >= (r.value ->> 'dispatch_threshold')::int
        """,
        p,
    )
    missing = conn.execute(
        "select d.dispatch_id from sup_dispatch as d where not exists "
        "(select 1 from supervision.dispatch_seeds as s where s.dispatch_id = d.dispatch_id) order by 1"
    ).fetchall()
    copy_rows(
        conn, "supervision.dispatch_seeds", ("dispatch_id", "seed"), [(m[0], new_seed()) for m in missing]
    )
    temp_table(
        conn,
        "sup_dispatch_staffing",
        """
        select d.dispatch_id || '-' || h.uscc as task_id, d.dispatch_id, h.uscc, d.prefecture,
               array[d.verifying_unit] as units, s.seed::text as seed
        from sup_dispatch as d
        join supervision.dispatch_seeds as s on s.dispatch_id = d.dispatch_id
        join supervision.warning_hits as h
          on h.as_of = %(as_of)s and h.rule_id = d.rule_id and h.prefecture = d.prefecture
        """,
        p,
    )
    staff(
        conn, as_of, "sup_dispatch_staffing", "sup_dispatch_staff", int(settings.plans["inspectors_per_task"])
    )
    conn.execute(
        """
        insert into supervision.dispatch_tasks
            (as_of, dispatch_id, task_id, uscc, member_unit, eligible_inspectors, inspector_ids, is_staffed)
        select %(as_of)s, t.dispatch_id, t.task_id, t.uscc, t.units[1], st.eligible_inspectors, st.inspector_ids,
               cardinality(st.inspector_ids) > 0
        from sup_dispatch_staffing as t
        join sup_dispatch_staff as st on st.task_id = t.task_id
        """,
        p,
    )
    batches = conn.execute(
        """
        insert into supervision.dispatch_batches
            (as_of, dispatch_id, rule_id, prefecture, verifying_unit, seed, entities, staffed_tasks)
        select %(as_of)s, d.dispatch_id, d.rule_id, d.prefecture, d.verifying_unit, s.seed, d.entities,
               coalesce(t.staffed, 0)
        from sup_dispatch as d
        join supervision.dispatch_seeds as s on s.dispatch_id = d.dispatch_id
        left join (
            select dt.dispatch_id, count(*) filter (where dt.is_staffed) as staffed
            from supervision.dispatch_tasks as dt
            where dt.as_of = %(as_of)s
            group by dt.dispatch_id
        ) as t on t.dispatch_id = d.dispatch_id
        """,
        p,
    ).rowcount
    row = conn.execute(
        "select count(*), count(distinct uscc) from supervision.dispatch_tasks where as_of = %(as_of)s", p
    ).fetchone()
    assert row is not None
    return {"dispatch_batches": batches, "dispatch_tasks": row[0], "dispatch_entities": row[1]}


def run(
    conn: psycopg.Connection, settings: Settings, as_of: dt.date, previous_as_of: dt.date | None
) -> dict[str, Any]:
    """All rules at as_of, then dispatch; returns the run's counts."""
    prepare_tables(conn, settings, as_of)
    per_rule = {r.id: run_rule(conn, settings, r, as_of, previous_as_of) for r in settings.rules}
    row = conn.execute(
        "select count(*), count(distinct uscc) from supervision.warning_hits where as_of = %(as_of)s",
        {"as_of": as_of},
    ).fetchone()
    assert row is not None
    return {
        "warning_batches": len(per_rule),
        "warning_hits": row[0],
        "warning_entities": row[1],
        "hits_per_rule": per_rule,
        **dispatch(conn, settings, as_of),
    }
