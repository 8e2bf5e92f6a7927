"""Inspector assignment for spot-check and verification tasks (supervision.md §1).

Each task gets `per_task` distinct active inspectors of the task's member units in its
prefecture, ordered by sha256(seed || ':' || task_id || ':' || inspector_id) (lower-case hex
ascending, i.e. byte order of the digest), skipping those listed in `inspector_ids` of the
entity's latest inspection on or before as_of (回避; latest = greatest inspected_on, then
greatest record_id). A task with fewer eligible inspectors is flagged, not dropped.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from credit_risk.supervision.sqlutil import temp_table


def staff(conn: psycopg.Connection, as_of: dt.date, source: str, out: str, per_task: int) -> int:
    """Staff the tasks of temporary table `source` (task_id, uscc, prefecture, units text[], seed)
    into temporary table `out` (task_id, eligible_inspectors, inspector_ids); returns tasks staffed."""
    # tasks numbered, so the per-task ordering sorts on an integer rather than on the long task id
    temp_table(
        conn, "sup_staff_src", f"select (row_number() over ())::int as task_no, t.* from {source} as t"
    )
    temp_table(
        conn,
        "sup_staff_ranked",
        """
        with latest as (
            select distinct on (i.uscc) i.uscc, i.inspector_ids
            from staging.stg_samr__inspections as i
            where i.inspected_on <= %(as_of)s and i.uscc in (select t.uscc from sup_staff_src as t)
            order by i.uscc, i.inspected_on desc, i.record_id desc
        ),
        eligible as (
            select t.task_no, ins.inspector_id,
                   sha256(convert_to(t.seed || ':' || t.task_id || ':' || ins.inspector_id, 'UTF8')) as draw_hash
            from sup_staff_src as t
            cross join lateral unnest(t.units) as u(member_unit)
            join staging.stg_samr__inspectors as ins
              on ins.member_unit = u.member_unit and ins.region_code = t.prefecture and ins.is_active
            left join latest as l on l.uscc = t.uscc
            where not (ins.inspector_id = any(coalesce(string_to_array(l.inspector_ids, ';'), '{}'::text[])))
        )
        select e.task_no, e.inspector_id,
               row_number() over (partition by e.task_no order by e.draw_hash) as rn,
               count(*) over (partition by e.task_no) as n
        from eligible as e
        """,
        {"as_of": as_of},
    )
    temp_table(
        conn,
        out,
        """
        select t.task_id,
               coalesce(r.n, 0)::int as eligible_inspectors,
               case when coalesce(r.n, 0) >= %(per_task)s then r.inspector_ids else '{}'::text[] end
                   as inspector_ids
        from sup_staff_src as t
        left join (
            select k.task_no, max(k.n) as n, array_agg(k.inspector_id order by k.rn) as inspector_ids
            from sup_staff_ranked as k
            where k.rn <= %(per_task)s
            group by k.task_no
        ) as r on r.task_no = t.task_no
        """,
        {"per_task": per_task},
    )
    conn.execute(f"create unique index on {out} (task_id)")
    row = conn.execute(f"select count(*) filter (where cardinality(inspector_ids) > 0) from {out}").fetchone()
    return int(row[0]) if row else 0
