"""Sandbox pool (§3 沙盒监管, 包容期) and white list (§4 白名单, 无事不扰).

Membership is kept as spells (entry as_of, exit as_of, exit reasons) plus a member snapshot per
as_of. One step per as_of: undo what this as_of recorded before (a re-run recomputes it), take
the members before as_of, record the exits, then the entries, then the snapshot. Steps are
state-based, so as_ofs need not be consecutive; re-running an older as_of replays the later
steps (see `runner`).

Readings (see the report): an entity that would leave at once is not admitted (a sandbox entry
also needs I10 ≠ 0 and no serious-dishonesty listing); "after entry" means decided/received
after the entry as_of; a penalty repaired on or before as_of no longer counts (indicators.md
"Time"); the white list also loses an entity whose honor lapsed or industry changed, and both
lists lose an entity that is no longer classified (not active).
"""

from __future__ import annotations

import datetime as dt

import psycopg

from credit_risk.supervision.settings import Settings
from credit_risk.supervision.sqlutil import temp_table


def _serious_dishonesty_now(conn: psycopg.Connection, as_of: dt.date) -> None:
    """Temporary table sup_sd_now(uscc): on the serious-dishonesty list at as_of."""
    temp_table(
        conn,
        "sup_sd_now",
        """
        select distinct d.uscc
        from staging.stg_samr__serious_dishonesty as d
        where d.listed_on <= %(as_of)s and (d.removed_on is null or d.removed_on > %(as_of)s)
        """,
        {"as_of": as_of},
    )


def step_sandbox(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> dict[str, int]:
    """Sandbox entries and exits at as_of; writes `supervision.sandbox_members` for as_of."""
    cfg = settings.sandbox
    p = {
        "as_of": as_of,
        "types": list(cfg["entity_types"]),
        "entry_classes": list(cfg["entry_classes"]),
        "exit_classes": list(cfg["exit_classes"]),
        "tolerated": list(cfg["tolerated_severities"]),
        "grace_months": int(cfg["grace_period_months"]),
        "block_months": int(cfg["no_reentry_months"]),
        "high": list(settings.high_risk_divisions),
    }
    conn.execute("delete from supervision.sandbox_memberships where entered_as_of = %(as_of)s", p)
    conn.execute(
        "update supervision.sandbox_memberships set exited_as_of = null, exit_reasons = null "
        "where exited_as_of = %(as_of)s",
        p,
    )
    conn.execute("delete from supervision.sandbox_members where as_of = %(as_of)s", p)
    temp_table(
        conn,
        "sup_sandbox_before",
        """
        select m.uscc, m.entered_as_of, m.grace_ends_on
        from supervision.sandbox_memberships as m
        where m.entered_as_of < %(as_of)s and (m.exited_as_of is null or m.exited_as_of > %(as_of)s)
        """,
        p,
    )
    # penalties decided after entry that still count at as_of
    temp_table(
        conn,
        "sup_sandbox_penalties",
        """
        select pen.uscc, pen.record_id, pen.decided_on, pen.severity, m.grace_ends_on
        from staging.stg_samr__penalties as pen
        join sup_sandbox_before as m on m.uscc = pen.uscc
        where pen.decided_on > m.entered_as_of and pen.decided_on <= %(as_of)s
          and (pen.repaired_on is null or pen.repaired_on > %(as_of)s)
        """,
        p,
    )
    _serious_dishonesty_now(conn, as_of)
    # 容错: the first warning / fine_small decided after entry inside the 包容期
    temp_table(
        conn,
        "sup_sandbox_tolerated",
        """
        select distinct on (t.uscc) t.uscc, t.record_id
        from sup_sandbox_penalties as t
        where t.severity = any(%(tolerated)s) and t.decided_on <= t.grace_ends_on
        order by t.uscc, t.decided_on, t.record_id
        """,
        p,
    )
    # members with a penalty after entry other than the tolerated one
    temp_table(
        conn,
        "sup_sandbox_breach",
        """
        select distinct pen.uscc
        from sup_sandbox_penalties as pen
        left join sup_sandbox_tolerated as tol on tol.uscc = pen.uscc
        where pen.record_id is distinct from tol.record_id
        """,
        p,
    )
    # set membership tests below are uncorrelated (hashed), never a scan per member
    exits = conn.execute(
        """
        with reasons as (
            select m.uscc, m.entered_as_of, array_remove(array[
                case when a.uscc is null then 'not_active' end,
                case when a.risk_class = any(%(exit_classes)s) then 'risk_class_c_or_d' end,
                case when sc.i10 = 0 then 'annual_report_not_filed' end,
                case when m.uscc in (select x.uscc from sup_sd_now as x) then 'serious_dishonesty' end,
                case when m.uscc in (select b.uscc from sup_sandbox_breach as b) then 'penalty' end
            ]::text[], null) as reasons
            from sup_sandbox_before as m
            left join active_entities as a on a.uscc = m.uscc
            left join published.indicator_scores as sc on sc.as_of = %(as_of)s and sc.uscc = m.uscc
        )
        update supervision.sandbox_memberships as sm
        set exited_as_of = %(as_of)s, exit_reasons = r.reasons
        from reasons as r
        where sm.uscc = r.uscc and sm.entered_as_of = r.entered_as_of and cardinality(r.reasons) > 0
        """,
        p,
    ).rowcount
    entries = conn.execute(
        """
        insert into supervision.sandbox_memberships (uscc, entered_as_of, grace_ends_on)
        select a.uscc, %(as_of)s, (%(as_of)s::date + make_interval(months => %(grace_months)s))::date
        from active_entities as a
        left join published.indicator_scores as sc on sc.as_of = %(as_of)s and sc.uscc = a.uscc
        where a.entity_type = any(%(types)s)
          and a.is_four_new
          and a.risk_class = any(%(entry_classes)s)
          and a.industry_division is not null and not (a.industry_division = any(%(high)s))
          -- not admitted only to leave at once
          and coalesce(sc.i10, 1) <> 0
          and not exists (select 1 from sup_sd_now as x where x.uscc = a.uscc)
          -- a member already, or left in the 12 months before (exits at as_of included)
          and not exists (
              select 1 from supervision.sandbox_memberships as m
              where m.uscc = a.uscc and m.entered_as_of < %(as_of)s
                and (m.exited_as_of is null
                     or m.exited_as_of > %(as_of)s::date - make_interval(months => %(block_months)s))
          )
        """,
        p,
    ).rowcount
    members = conn.execute(
        """
        insert into supervision.sandbox_members (as_of, uscc, entered_as_of, grace_ends_on, tolerated_penalty_id)
        select %(as_of)s, m.uscc, m.entered_as_of, m.grace_ends_on, tol.record_id
        from supervision.sandbox_memberships as m
        left join sup_sandbox_tolerated as tol on tol.uscc = m.uscc
        where m.entered_as_of <= %(as_of)s and (m.exited_as_of is null or m.exited_as_of > %(as_of)s)
        """,
        p,
    ).rowcount
    return {"entries": entries, "exits": exits, "members": members}


def step_white_list(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> dict[str, int]:
    """White-list entries and exits at as_of; writes `supervision.white_list_members` for as_of."""
    cfg = settings.white_list
    p = {
        "as_of": as_of,
        "prefix": str(cfg["industry_code_prefix"]),
        "honor": cfg["honor_type"],
        "entry_classes": list(cfg["entry_classes"]),
        "block_months": int(cfg["no_reentry_months"]),
    }
    conn.execute("delete from supervision.white_list_memberships where entered_as_of = %(as_of)s", p)
    conn.execute(
        "update supervision.white_list_memberships set exited_as_of = null, exit_reasons = null "
        "where exited_as_of = %(as_of)s",
        p,
    )
    conn.execute("delete from supervision.white_list_members where as_of = %(as_of)s", p)
    temp_table(
        conn,
        "sup_honor_now",
        """
        select distinct h.uscc
        from staging.stg_bizenv__honors as h
        where h.honor_type = %(honor)s and h.awarded_on <= %(as_of)s
          and (h.valid_until is null or h.valid_until >= %(as_of)s)
        """,
        p,
    )
    temp_table(
        conn,
        "sup_white_before",
        """
        select m.uscc, m.entered_as_of
        from supervision.white_list_memberships as m
        where m.entered_as_of < %(as_of)s and (m.exited_as_of is null or m.exited_as_of > %(as_of)s)
        """,
        p,
    )
    temp_table(
        conn,
        "sup_white_complaint",
        """
        select distinct m.uscc
        from sup_white_before as m
        join staging.stg_samr__complaints as c on c.uscc = m.uscc
        where c.substantiated and c.received_on > m.entered_as_of and c.received_on <= %(as_of)s
        """,
        p,
    )
    temp_table(
        conn,
        "sup_white_penalty",
        """
        select distinct m.uscc
        from sup_white_before as m
        join staging.stg_samr__penalties as pen on pen.uscc = m.uscc
        where pen.decided_on > m.entered_as_of and pen.decided_on <= %(as_of)s
          and (pen.repaired_on is null or pen.repaired_on > %(as_of)s)
        """,
        p,
    )
    exits = conn.execute(
        """
        with reasons as (
            select m.uscc, m.entered_as_of, array_remove(array[
                case when a.uscc is null then 'not_active' end,
                case when a.uscc is not null and not (a.risk_class = any(%(entry_classes)s))
                     then 'risk_class_changed' end,
                case when m.uscc in (select x.uscc from sup_white_complaint as x) then 'substantiated_complaint' end,
                case when m.uscc in (select x.uscc from sup_white_penalty as x) then 'penalty' end,
                case when a.uscc is not null and m.uscc not in (select x.uscc from sup_honor_now as x)
                     then 'honor_not_in_force' end,
                case when a.uscc is not null
                      and not coalesce(left(a.industry_code, length(%(prefix)s)) = %(prefix)s, false)
                     then 'industry_changed' end
            ]::text[], null) as reasons
            from sup_white_before as m
            left join active_entities as a on a.uscc = m.uscc
        )
        update supervision.white_list_memberships as wm
        set exited_as_of = %(as_of)s, exit_reasons = r.reasons
        from reasons as r
        where wm.uscc = r.uscc and wm.entered_as_of = r.entered_as_of and cardinality(r.reasons) > 0
        """,
        p,
    ).rowcount
    entries = conn.execute(
        """
        insert into supervision.white_list_memberships (uscc, entered_as_of)
        select a.uscc, %(as_of)s
        from active_entities as a
        join sup_honor_now as h on h.uscc = a.uscc
        where left(a.industry_code, length(%(prefix)s)) = %(prefix)s
          and a.risk_class = any(%(entry_classes)s)
          -- a member already, or left in the 12 months before (no re-entry within 12 months)
          and not exists (
              select 1 from supervision.white_list_memberships as m
              where m.uscc = a.uscc and m.entered_as_of < %(as_of)s
                and (m.exited_as_of is null
                     or m.exited_as_of > %(as_of)s::date - make_interval(months => %(block_months)s))
          )
        """,
        p,
    ).rowcount
    members = conn.execute(
        """
        insert into supervision.white_list_members (as_of, uscc, entered_as_of)
        select %(as_of)s, m.uscc, m.entered_as_of
        from supervision.white_list_memberships as m
        where m.entered_as_of <= %(as_of)s and (m.exited_as_of is null or m.exited_as_of > %(as_of)s)
        """,
        p,
    ).rowcount
    return {"entries": entries, "exits": exits, "members": members}
