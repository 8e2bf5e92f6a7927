"""Annual-report urging (年报督促), supervision.md §5.

For as_of on or after 30 June of its year, report year Y = year(as_of) − 1 (indicators.md): the
active entities established on or before 31 December of Y with no report for Y filed on or
before as_of. C and D → interview list (约谈); A and B → reminder list. Before 30 June nothing is
listed. Counts per prefecture and list.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from credit_risk.supervision.settings import Settings


def run(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> dict[str, int]:
    """Urging lists of as_of into supervision.annual_report_urging(_counts); returns counts per list."""
    cfg = settings.urging
    due = dt.date(as_of.year, int(cfg["from_month"]), int(cfg["from_day"]))
    counts = {"interview": 0, "reminder": 0}
    if as_of < due:
        return counts
    p = {
        "as_of": as_of,
        "y": as_of.year - 1,
        "interview": list(cfg["interview_classes"]),
        "reminder": list(cfg["reminder_classes"]),
    }
    conn.execute(
        """
        insert into supervision.annual_report_urging (as_of, uscc, prefecture, report_year, risk_class, urging_list)
        select %(as_of)s, a.uscc, a.prefecture, %(y)s, a.risk_class,
               case when a.risk_class = any(%(interview)s) then 'interview' else 'reminder' end
        from active_entities as a
        where a.established_on <= make_date(%(y)s, 12, 31)
          and (a.risk_class = any(%(interview)s) or a.risk_class = any(%(reminder)s))
          and not exists (
              select 1 from staging.stg_samr__annual_reports as r
              where r.uscc = a.uscc and r.report_year = %(y)s and r.filed_on <= %(as_of)s
          )
        """,
        p,
    )
    conn.execute(
        """
        insert into supervision.annual_report_urging_counts (as_of, prefecture, urging_list, entities)
        select as_of, prefecture, urging_list, count(*)
        from supervision.annual_report_urging
        where as_of = %(as_of)s
        group by as_of, prefecture, urging_list
        """,
        p,
    )
    for lst, n in conn.execute(
        "select urging_list, count(*) from supervision.annual_report_urging where as_of = %(as_of)s group by 1",
        p,
    ):
        counts[lst] = n
    return counts
