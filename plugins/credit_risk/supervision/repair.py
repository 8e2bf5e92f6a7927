"""Credit repair (信用修复), supervision.md §6.

One eligibility check serves two lists:

* the officers' queue: every application still `submitted` at as_of (applied on or before
  as_of, and either still submitted or decided after as_of), eligible or not, with every
  failing condition;
* the guidance list (分类指导): C and D entities holding a record that would be eligible if
  applied for (records with an application pending at as_of or approved are left out; a
  rejected one may be applied for again).

Failing conditions (codes kept in `failing_conditions`, in this order):

| target | codes |
|---|---|
| any | `target_not_found` (no such record of that entity dated ≤ as_of) |
| penalty | `already_repaired`, `severity_warning`, `decided_less_than_<6/12>_months_ago` (12 in the strict divisions), `later_penalty_same_violation_type`, `on_serious_dishonesty_list`, `on_abnormal_list` |
| abnormal_list | `no_longer_listed`, `reason_not_cured` |
| serious_dishonesty | `no_longer_listed`, `listed_less_than_<1>_years_ago`, `listed_<3>_years_or_more_ago`, `penalty_since_listing` |

Cures of an abnormal listing, on or after `listed_on` and on or before as_of:
`annual_report_missing` — a report filed for the year before the listing year;
`unreachable_address` — an `address` change; `false_info` / `failure_to_disclose` — a report
filed after `listed_on`. A penalty repaired on or before as_of no longer counts as a later
penalty or a penalty since listing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from credit_risk.supervision.settings import Settings
from credit_risk.supervision.sqlutil import temp_table

# an application still open at as_of: submitted then, whatever its later status
PENDING = "(r.status = 'submitted' or r.decided_on > %(as_of)s)"


def run(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> dict[str, Any]:
    """Queue, guidance list and counts of as_of into supervision.repair_*; returns the counts."""
    cfg = settings.repair
    p = {
        "as_of": as_of,
        "min_months": int(cfg["penalty_min_months"]),
        "strict_months": int(cfg["penalty_min_months_strict"]),
        "strict": [str(d) for d in cfg["strict_divisions"]],
        "sd_min": int(cfg["serious_dishonesty_min_years"]),
        "sd_max": int(cfg["serious_dishonesty_max_years"]),
        "guidance": list(cfg["guidance_classes"]),
        "month_start": as_of.replace(day=1),
        "year_start": as_of.replace(month=1, day=1),
    }
    temp_table(
        conn,
        "sup_repair_candidates",
        f"""
        select 'application'::text as source, r.record_id as application_id, r.uscc, r.target_type,
               r.target_record_id, r.applied_on
        from staging.stg_samr__credit_repairs as r
        where r.applied_on <= %(as_of)s and {PENDING}
        union all
        select 'guidance', null, g.uscc, g.target_type, g.target_record_id, null
        from (
            select pen.uscc, 'penalty'::text as target_type, pen.record_id as target_record_id
            from staging.stg_samr__penalties as pen
            where pen.decided_on <= %(as_of)s and (pen.repaired_on is null or pen.repaired_on > %(as_of)s)
            union all
            select l.uscc, 'abnormal_list', l.record_id
            from staging.stg_samr__abnormal_list as l
            where l.listed_on <= %(as_of)s and (l.removed_on is null or l.removed_on > %(as_of)s)
            union all
            select d.uscc, 'serious_dishonesty', d.record_id
            from staging.stg_samr__serious_dishonesty as d
            where d.listed_on <= %(as_of)s and (d.removed_on is null or d.removed_on > %(as_of)s)
        ) as g
        join active_entities as a on a.uscc = g.uscc and a.risk_class = any(%(guidance)s)
        where not exists (
            select 1 from staging.stg_samr__credit_repairs as r
            where r.uscc = g.uscc and r.target_type = g.target_type and r.target_record_id = g.target_record_id
              and r.applied_on <= %(as_of)s and ({PENDING} or r.status = 'approved')
        )
        """,
        p,
    )
    temp_table(
        conn,
        "sup_repair_sd_now",
        "select distinct x.uscc from staging.stg_samr__serious_dishonesty as x "
        "where x.listed_on <= %(as_of)s and (x.removed_on is null or x.removed_on > %(as_of)s)",
        p,
    )
    temp_table(
        conn,
        "sup_repair_abnormal_now",
        "select distinct x.uscc from staging.stg_samr__abnormal_list as x "
        "where x.listed_on <= %(as_of)s and (x.removed_on is null or x.removed_on > %(as_of)s)",
        p,
    )
    # the target records, and for each the facts its conditions need (joins and aggregates, never a
    # scan per candidate)
    temp_table(
        conn,
        "sup_repair_targets",
        """
        select c.*, left(reg.industry_code, 2) = any(%(strict)s) as is_strict,
               pen.record_id as pen_id, pen.decided_on as pen_decided_on, pen.severity as pen_severity,
               pen.violation_type as pen_violation_type, pen.repaired_on as pen_repaired_on,
               l.record_id as ab_id, l.listed_on as ab_listed_on, l.reason as ab_reason, l.removed_on as ab_removed_on,
               d.record_id as sd_id, d.listed_on as sd_listed_on, d.removed_on as sd_removed_on
        from sup_repair_candidates as c
        left join staging.stg_samr__registration as reg on reg.uscc = c.uscc
        left join staging.stg_samr__penalties as pen
          on c.target_type = 'penalty' and pen.record_id = c.target_record_id and pen.uscc = c.uscc
         and pen.decided_on <= %(as_of)s
        left join staging.stg_samr__abnormal_list as l
          on c.target_type = 'abnormal_list' and l.record_id = c.target_record_id and l.uscc = c.uscc
         and l.listed_on <= %(as_of)s
        left join staging.stg_samr__serious_dishonesty as d
          on c.target_type = 'serious_dishonesty' and d.record_id = c.target_record_id and d.uscc = c.uscc
         and d.listed_on <= %(as_of)s
        """,
        p,
    )
    # penalties that still count at as_of, of the entities with a target
    temp_table(
        conn,
        "sup_repair_penalties",
        """
        select pen.uscc, pen.record_id, pen.decided_on, pen.violation_type
        from staging.stg_samr__penalties as pen
        where pen.decided_on <= %(as_of)s and (pen.repaired_on is null or pen.repaired_on > %(as_of)s)
          and pen.uscc in (select t.uscc from sup_repair_targets as t)
        """,
        p,
    )
    temp_table(
        conn,
        "sup_repair_facts",
        """
        with later_same_type as (
            select distinct t.pen_id
            from sup_repair_targets as t
            join sup_repair_penalties as x
              on x.uscc = t.uscc and x.violation_type = t.pen_violation_type and x.decided_on > t.pen_decided_on
            where t.pen_id is not null
        ),
        penalty_since_listing as (
            select distinct t.sd_id
            from sup_repair_targets as t
            join sup_repair_penalties as x on x.uscc = t.uscc and x.decided_on > t.sd_listed_on
            where t.sd_id is not null
        ),
        cured as (
            select distinct t.ab_id
            from sup_repair_targets as t
            join staging.stg_samr__annual_reports as ar on ar.uscc = t.uscc
            where t.ab_id is not null and ar.filed_on <= %(as_of)s
              and (
                  (t.ab_reason = 'annual_report_missing'
                   and ar.report_year = extract(year from t.ab_listed_on)::int - 1 and ar.filed_on >= t.ab_listed_on)
                  or (t.ab_reason in ('false_info', 'failure_to_disclose') and ar.filed_on > t.ab_listed_on)
              )
            union
            select t.ab_id
            from sup_repair_targets as t
            join staging.stg_samr__registration_changes as ch on ch.uscc = t.uscc
            where t.ab_reason = 'unreachable_address' and ch.change_type = 'address'
              and ch.changed_on >= t.ab_listed_on and ch.changed_on <= %(as_of)s
        )
        select t.*,
               t.pen_id in (select x.pen_id from later_same_type as x) as has_later_same_type,
               t.sd_id in (select x.sd_id from penalty_since_listing as x) as has_penalty_since_listing,
               t.ab_id in (select x.ab_id from cured as x) as is_cured
        from sup_repair_targets as t
        """,
        p,
    )
    temp_table(
        conn,
        "sup_repair_checked",
        """
        select t.source, t.application_id, t.uscc, t.target_type, t.target_record_id, t.applied_on,
               array_remove(array[
                   case when coalesce(t.pen_id, t.ab_id, t.sd_id) is null then 'target_not_found' end,
                   -- penalty
                   case when t.pen_repaired_on <= %(as_of)s then 'already_repaired' end,
                   case when t.pen_severity = 'warning' then 'severity_warning' end,
                   case when t.pen_decided_on > %(as_of)s::date - make_interval(months =>
                            case when coalesce(t.is_strict, false) then %(strict_months)s else %(min_months)s end)
                        then 'decided_less_than_'
                             || case when coalesce(t.is_strict, false) then %(strict_months)s else %(min_months)s end
                             || '_months_ago' end,
                   case when t.has_later_same_type then 'later_penalty_same_violation_type' end,
                   case when t.pen_id is not null and t.uscc in (select x.uscc from sup_repair_sd_now as x)
                        then 'on_serious_dishonesty_list' end,
                   case when t.pen_id is not null and t.uscc in (select x.uscc from sup_repair_abnormal_now as x)
                        then 'on_abnormal_list' end,
                   -- abnormal listing
                   case when t.ab_removed_on <= %(as_of)s then 'no_longer_listed' end,
                   case when t.ab_id is not null and not coalesce(t.is_cured, false) then 'reason_not_cured' end,
                   -- serious dishonesty
                   case when t.sd_removed_on <= %(as_of)s then 'no_longer_listed' end,
                   case when t.sd_listed_on > %(as_of)s::date - make_interval(years => %(sd_min)s)
                        then 'listed_less_than_' || %(sd_min)s || '_years_ago' end,
                   case when t.sd_listed_on <= %(as_of)s::date - make_interval(years => %(sd_max)s)
                        then 'listed_' || %(sd_max)s || '_years_or_more_ago' end,
                   case when t.has_penalty_since_listing then 'penalty_since_listing' end
               ]::text[], null) as failing_conditions
        from sup_repair_facts as t
        """,
        p,
    )
    conn.execute(
        """
        insert into supervision.repair_queue
            (as_of, application_id, uscc, target_type, target_record_id, applied_on, is_eligible, failing_conditions)
        select %(as_of)s, application_id, uscc, target_type, target_record_id, applied_on,
               cardinality(failing_conditions) = 0, failing_conditions
        from sup_repair_checked
        where source = 'application'
        """,
        p,
    )
    conn.execute(
        """
        insert into supervision.repair_guidance (as_of, uscc, prefecture, risk_class, target_type, target_record_id)
        select distinct %(as_of)s, c.uscc, a.prefecture, a.risk_class, c.target_type, c.target_record_id
        from sup_repair_checked as c
        join active_entities as a on a.uscc = c.uscc
        where c.source = 'guidance' and cardinality(c.failing_conditions) = 0
        """,
        p,
    )
    conn.execute(
        """
        insert into supervision.repair_stats
        select %(as_of)s,
            (select count(*) from staging.stg_samr__credit_repairs
             where applied_on between %(month_start)s and %(as_of)s),
            (select count(*) from staging.stg_samr__credit_repairs
             where applied_on between %(year_start)s and %(as_of)s),
            (select count(*) from staging.stg_samr__credit_repairs
             where status = 'approved' and decided_on between %(month_start)s and %(as_of)s),
            (select count(*) from staging.stg_samr__credit_repairs
             where status = 'approved' and decided_on between %(year_start)s and %(as_of)s),
            (select count(*) from supervision.repair_queue where as_of = %(as_of)s),
            (select count(*) from supervision.repair_queue where as_of = %(as_of)s and is_eligible),
            (select count(distinct uscc) from supervision.repair_guidance where as_of = %(as_of)s),
            (select count(*) from supervision.repair_guidance where as_of = %(as_of)s)
        """,
        p,
    )
    row = conn.execute("select * from supervision.repair_stats where as_of = %(as_of)s", p).fetchone()
    assert row is not None
    keys = (
        "applications_in_month",
        "applications_year_to_date",
        "approvals_in_month",
        "approvals_year_to_date",
        "queue_submitted",
        "queue_eligible",
        "guidance_entities",
        "guidance_records",
    )
    return dict(zip(keys, row[1:], strict=True))
