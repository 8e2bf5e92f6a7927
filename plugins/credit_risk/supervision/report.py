"""`summary(as_of)`: one screen of text on the supervision results of an as_of (for `make demo`)."""

from __future__ import annotations

import datetime as dt

import psycopg

from credit_risk import db

TOP_UNITS = 5


def summary(as_of: dt.date) -> str:
    """Plans and tasks per member unit (top few + totals), joint tasks, warning hits and dispatch
    batches, sandbox and white-list sizes, urging counts and the repair queue of as_of."""
    with db.connect() as conn:
        return _summary(conn, as_of)


def _one(conn: psycopg.Connection, query: str, as_of: dt.date) -> tuple:
    row = conn.execute(query, {"as_of": as_of}).fetchone()
    return tuple(row) if row else ()


def _summary(conn: psycopg.Connection, as_of: dt.date) -> str:
    have = conn.execute("select to_regclass('supervision.runs') is not null").fetchone()
    run = (
        conn.execute(
            "select publication_id, finished_at from supervision.runs where as_of = %s", (as_of,)
        ).fetchone()
        if have and have[0]
        else None
    )
    if not run or run[1] is None:
        return f"supervision: no results for as_of {as_of}"
    lines = [f"Supervision for as_of {as_of} (publication #{run[0]})"]

    period, plans, tasks, joint, unstaffed, rate = _one(
        conn,
        """
        select min(p.plan_period), count(*),
               (select count(*) from supervision.spot_check_tasks where as_of = %(as_of)s),
               (select count(*) from supervision.spot_check_tasks where as_of = %(as_of)s and task_type = 'joint'),
               (select count(*) from supervision.spot_check_tasks where as_of = %(as_of)s and not is_staffed),
               (select round(100.0 * count(*) filter (where ratio_source in ('class', 'key_item'))
                             / nullif(count(*), 0), 1)
                from supervision.plan_strata where as_of = %(as_of)s)
        from supervision.spot_check_plans as p where p.as_of = %(as_of)s
        """,
        as_of,
    )
    lines.append(
        f"spot-check plans {period or '-'}: {plans} plans, {tasks} tasks ({joint} joint 一业一查, "
        f"{unstaffed} unstaffed), classification results applied in {rate if rate is not None else '-'} % of strata"
    )
    units = conn.execute(
        """
        select p.member_unit, count(*) as plans, sum(p.sample) as drawn,
               (select count(*) from supervision.spot_check_tasks as t
                where t.as_of = %(as_of)s and p.member_unit = any(t.member_units)) as tasks
        from supervision.spot_check_plans as p where p.as_of = %(as_of)s
        group by p.member_unit order by drawn desc, p.member_unit limit %(top)s
        """,
        {"as_of": as_of, "top": TOP_UNITS},
    ).fetchall()
    n_units = _one(
        conn,
        "select count(distinct member_unit) from supervision.spot_check_plans where as_of = %(as_of)s",
        as_of,
    )
    lines.append(f"  member units: {n_units[0]}; top {len(units)} by entities drawn:")
    for unit, n_plans, drawn, n_tasks in units:
        lines.append(f"    {unit:<16} {n_plans:>4} plans {drawn:>8} drawn {n_tasks:>8} tasks")

    batches, hits, entities = _one(
        conn,
        "select count(*), coalesce(sum(hits), 0), "
        "(select count(distinct uscc) from supervision.warning_hits where as_of = %(as_of)s) "
        "from supervision.warning_batches where as_of = %(as_of)s",
        as_of,
    )
    d_batches, d_entities = _one(
        conn,
        "select (select count(*) from supervision.dispatch_batches where as_of = %(as_of)s), "
        "(select count(distinct uscc) from supervision.dispatch_tasks where as_of = %(as_of)s)",
        as_of,
    )
    lines.append(
        f"early warning: {batches} warning batches, {hits} hits on {entities} entities; "
        f"{d_batches} dispatch batches covering {d_entities} entities"
    )
    per_rule = conn.execute(
        "select rule_id, hits from supervision.warning_batches where as_of = %(as_of)s and hits > 0 order by rule_id",
        {"as_of": as_of},
    ).fetchall()
    if per_rule:
        lines.append("  hits: " + ", ".join(f"{r} {n}" for r, n in per_rule))

    sb = _one(
        conn,
        """
        select (select count(*) from supervision.sandbox_members where as_of = %(as_of)s),
               (select count(*) from supervision.sandbox_memberships where entered_as_of = %(as_of)s),
               (select count(*) from supervision.sandbox_memberships where exited_as_of = %(as_of)s),
               (select count(*) from supervision.white_list_members where as_of = %(as_of)s),
               (select count(*) from supervision.white_list_memberships where entered_as_of = %(as_of)s),
               (select count(*) from supervision.white_list_memberships where exited_as_of = %(as_of)s)
        """,
        as_of,
    )
    lines.append(
        f"sandbox 沙盒: {sb[0]} members (+{sb[1]} entered, -{sb[2]} left); "
        f"white list 白名单: {sb[3]} members (+{sb[4]}, -{sb[5]})"
    )
    urge: dict[str, int] = dict(
        conn.execute(
            "select urging_list, sum(entities) from supervision.annual_report_urging_counts "
            "where as_of = %(as_of)s group by 1",
            {"as_of": as_of},
        ).fetchall()
    )
    n_pref = _one(
        conn,
        "select count(distinct prefecture) from supervision.annual_report_urging_counts where as_of = %(as_of)s",
        as_of,
    )
    lines.append(
        f"annual-report urging 年报督促: {urge.get('interview', 0)} interview (约谈), "
        f"{urge.get('reminder', 0)} reminder, in {n_pref[0]} prefectures"
    )
    rs = _one(conn, "select * from supervision.repair_stats where as_of = %(as_of)s", as_of)
    if rs:
        lines.append(
            f"credit repair 信用修复: queue {rs[5]} submitted ({rs[6]} eligible); guidance list {rs[7]} entities "
            f"({rs[8]} records); applications {rs[1]} this month / {rs[2]} this year, approvals {rs[3]} / {rs[4]}"
        )
    return "\n".join(lines)
