"""Double-random spot-check plans (双随机、一公开, 一业一查), supervision.md §1.

`draw` makes the plans of one as_of set-based in PostgreSQL:

1. the sampling frame (`supervision.plan_frame`): every classified entity with its industry
   division, prefecture, class and white-list / sandbox membership at as_of;
2. populations per stratum (plan, item, prefecture, class, white-list flag): active entities
   whose type is in the item's `entity_types` and whose division is in its `industry_scope`,
   minus sandbox members;
3. the ratio per stratum (white list 100 bp off-site; flat units their flat ratio; key items'
   D 10000; else the class ratio) and n = ceil(bp × N / 10000) in integer arithmetic;
4. the draw: the first n of the stratum ordered by sha256(plan_seed:item_id:uscc). Ordering the
   digest bytes equals ordering its lower-case hex. To avoid sorting every (item, entity) pair,
   only pairs whose digest's first 4 bytes fall below a per-stratum cut-off (chosen so that
   comfortably more than n pass) are ranked; pairs above it are larger than every pair below, so
   the first n are exact whenever at least n pass, and a stratum with fewer is redrawn without
   the cut-off;
5. tasks: one per (period, prefecture, entity), listing every item and member unit that drew it
   (`joint` when several units did), belonging to every plan that drew it; inspectors as in
   `staffing`, seeded by the plan seed of the task's first unit (lowest member_unit code). The
   drawn lists are stored once, in the tasks; views `supervision.plan_samples` (per stratum) and
   `supervision.plan_tasks` (per plan) unfold them.

Plan ids: `<member_unit>-<prefecture>-<YYYY>Q<n>`; a plan exists where one of its strata has a
population. Its seed is drawn once (secrets.token_hex(16)) and kept in `supervision.plan_seeds`.

`verify(plan_id)` re-draws a published plan in Python (hashlib) from the published seed, classes,
frame, items and memberships, as an outside auditor would, and reports any difference.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import defaultdict
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from credit_risk.supervision.settings import Settings
from credit_risk.supervision.sqlutil import copy_rows, drop_work_table, new_seed, temp_table, work_table
from credit_risk.supervision.staffing import staff

# Candidates per stratum before ranking: n + MARGIN_SD × sqrt(n) + MARGIN_MIN (expected). A stratum
# with fewer than n candidates is redrawn in full, so this only trades work, never results.
MARGIN_SD = 5.0
MARGIN_MIN = 10.0
FULL_CUTOFF = 2**32 - 1


def plan_period(as_of: dt.date, mode: str) -> tuple[str, dt.date, dt.date]:
    """(label `YYYYQn`, first day, last day) of the plan period for as_of."""
    q0 = (as_of.month - 1) // 3  # 0..3, quarter containing as_of
    year, q = as_of.year, q0
    if mode == "next_quarter":
        q += 1
        if q == 4:
            year, q = year + 1, 0
    start = dt.date(year, 3 * q + 1, 1)
    end_month = 3 * q + 3
    end = (dt.date(year + 1, 1, 1) if end_month == 12 else dt.date(year, end_month + 1, 1)) - dt.timedelta(
        days=1
    )
    return f"{year}Q{q + 1}", start, end


def sample_size(ratio_bp: int, population: int) -> int:
    """n = ceil(bp × N / 10000) in integer arithmetic."""
    return (ratio_bp * population + 9999) // 10000


def _cutoff(n: int, population: int) -> int:
    """Upper bound of the first 4 digest bytes for the candidates of a stratum (inclusive)."""
    if n <= 0:
        return -1
    expected = n + MARGIN_SD * math.sqrt(n) + MARGIN_MIN
    if expected >= population:
        return FULL_CUTOFF
    return max(0, min(FULL_CUTOFF, int(expected / population * 2**32)))


def _ratios(settings: Settings, unit: str) -> dict[str, Any]:
    """The ratios a member unit's plans use (published with each plan)."""
    p = settings.plans
    opts = settings.member_unit_options(unit)
    flat = opts.get("ratio_mode") == "flat"
    return {
        "mode": "flat" if flat else "class",
        "class": dict(p["class_ratios_bp"]),
        "key_item": dict(p["key_item_ratios_bp"]),
        "white_list": int(p["white_list_ratio_bp"]),
        "flat": int(opts.get("flat_ratio_bp", p["default_flat_ratio_bp"])) if flat else None,
    }


def draw(
    conn: psycopg.Connection, settings: Settings, as_of: dt.date, publication_id: int | None
) -> dict[str, Any]:
    """Draw every plan of the period of as_of and its tasks; write supervision.plan_items,
    plan_frame, plan_strata, spot_check_plans and spot_check_tasks for as_of (the caller cleared
    them). Needs the temporary table `active_entities` and the as_of's sandbox and white-list
    members."""
    p = settings.plans
    label, start, end = plan_period(as_of, p["period"])
    params: dict[str, Any] = {"as_of": as_of, "period": label}

    conn.execute(
        """
        insert into supervision.plan_items
            (as_of, item_id, member_unit, item_name, industry_scope, entity_types, is_key_item)
        select %(as_of)s, i.item_id, i.member_unit, i.item_name, i.industry_scope, i.entity_types,
               coalesce(i.is_key_item, false)
        from staging.stg_samr__inspection_items as i
        """,
        params,
    )
    conn.execute(
        """
        insert into supervision.plan_frame
            (as_of, uscc, entity_type, industry_division, prefecture, risk_class, is_white_listed, is_sandbox_member)
        select %(as_of)s, a.uscc, a.entity_type, a.industry_division, a.prefecture, a.risk_class,
               w.uscc is not null, s.uscc is not null
        from active_entities as a
        left join supervision.white_list_members as w on w.as_of = %(as_of)s and w.uscc = a.uscc
        left join supervision.sandbox_members as s on s.as_of = %(as_of)s and s.uscc = a.uscc
        """,
        params,
    )
    # fresh statistics: the planner must not take the new frame for an empty table
    conn.execute("analyze supervision.plan_frame")
    # (item, entity type, division) rows; an item for all industries gets every division in the
    # frame plus '' (entities whose division is unknown match only such items)
    temp_table(
        conn,
        "sup_item_scope",
        """
        with items as (
            select i.item_id, i.member_unit, i.is_key_item,
                   string_to_array(i.entity_types, ';') as types,
                   string_to_array(i.industry_scope, ';') as divisions,
                   '*' = any(string_to_array(i.industry_scope, ';')) as all_industries
            from supervision.plan_items as i
            where i.as_of = %(as_of)s
        ),
        frame_divisions as (
            select distinct coalesce(f.industry_division, '') as division_key
            from supervision.plan_frame as f where f.as_of = %(as_of)s
        )
        select distinct i.item_id, i.member_unit, i.is_key_item, t.entity_type, d.division_key
        from items as i
        cross join lateral unnest(i.types) as t(entity_type)
        cross join lateral (
            select x.division from unnest(i.divisions) as x(division) where not i.all_industries
            union all
            select fd.division_key from frame_divisions as fd where i.all_industries
        ) as d(division_key)
        """,
        params,
    )
    units = {
        u: {"ratio_mode": "flat", "flat_ratio_bp": _ratios(settings, u)["flat"]}
        for u, o in (p.get("member_units") or {}).items()
        if (o or {}).get("ratio_mode") == "flat"
    }
    strata_params = {
        **params,
        "wl_bp": int(p["white_list_ratio_bp"]),
        "class_bp": Jsonb(p["class_ratios_bp"]),
        "key_bp": Jsonb(p["key_item_ratios_bp"]),
        "units": Jsonb(units),
        "wl_mode": p["white_list_inspection_mode"],
        "default_mode": p["default_inspection_mode"],
    }
    # the frame of this draw (sandbox members left out), with the key the item scopes join on
    work_table(
        conn,
        "_draw_frame",
        """
        select f.uscc, f.entity_type, coalesce(f.industry_division, '') as division_key, f.prefecture,
               f.risk_class, f.is_white_listed
        from supervision.plan_frame as f
        where f.as_of = %(as_of)s and not f.is_sandbox_member
        """,
        params,
    )
    temp_table(
        conn,
        "sup_strata",
        """
        with frame_groups as (
            -- populations are sums over frame groups: no (item, entity) pair is formed for counting
            select f.entity_type, f.division_key, f.prefecture, f.risk_class, f.is_white_listed, count(*) as n
            from supervision._draw_frame as f
            group by 1, 2, 3, 4, 5
        ),
        counts as (
            select s.member_unit, g.prefecture, s.item_id, s.is_key_item, g.risk_class, g.is_white_listed,
                   sum(g.n)::bigint as population
            from frame_groups as g
            join sup_item_scope as s on s.entity_type = g.entity_type and s.division_key = g.division_key
            group by 1, 2, 3, 4, 5, 6
        ),
        rated as (
            select c.*,
                   c.member_unit || '-' || c.prefecture || '-' || %(period)s as plan_id,
                   case when c.is_white_listed then %(wl_bp)s
                        when u.value ->> 'ratio_mode' = 'flat' then (u.value ->> 'flat_ratio_bp')::int
                        when c.is_key_item and %(key_bp)s ? c.risk_class then (%(key_bp)s ->> c.risk_class)::int
                        else (%(class_bp)s ->> c.risk_class)::int end as ratio_bp,
                   case when c.is_white_listed then 'white_list'
                        when u.value ->> 'ratio_mode' = 'flat' then 'flat'
                        when c.is_key_item and %(key_bp)s ? c.risk_class then 'key_item'
                        else 'class' end as ratio_source,
                   case when c.is_white_listed then %(wl_mode)s else %(default_mode)s end as inspection_mode
            from counts as c
            left join jsonb_each(%(units)s) as u on u.key = c.member_unit
        )
        select (row_number() over ())::int as stratum_id, r.*,
               ((r.ratio_bp::bigint * r.population + 9999) / 10000)::int as sample
        from rated as r
        """,
        strata_params,
    )
    bad = conn.execute("select count(*) from sup_strata where ratio_bp is null").fetchone()
    if bad and bad[0]:
        raise ValueError("a stratum has no configured ratio (risk class outside plans.class_ratios_bp?)")

    # plan seeds: drawn once per plan, reused on every re-run
    missing = conn.execute(
        """
        select distinct s.plan_id, s.member_unit, s.prefecture
        from sup_strata as s
        where not exists (select 1 from supervision.plan_seeds as ps where ps.plan_id = s.plan_id)
        order by 1
        """
    ).fetchall()
    copy_rows(
        conn,
        "supervision.plan_seeds",
        ("plan_id", "member_unit", "prefecture", "plan_period", "plan_seed", "created_for_as_of"),
        [(pid, unit, pref, label, new_seed(), as_of) for pid, unit, pref in missing],
    )
    conn.execute(
        "alter table sup_strata add column plan_seed text, add column cutoff bytea, add column refill boolean"
    )
    conn.execute(
        "update sup_strata as s set plan_seed = ps.plan_seed from supervision.plan_seeds as ps "
        "where ps.plan_id = s.plan_id"
    )
    # cut-offs: n + MARGIN_SD·√n + MARGIN_MIN expected candidates (the formula of _cutoff)
    conn.execute(
        """
        update sup_strata set refill = false, cutoff = case
            when sample <= 0 then null
            when sample + %(sd)s * sqrt(sample) + %(mn)s >= population then '\\xffffffff'::bytea
            else decode(lpad(to_hex(least(%(full)s::bigint, greatest(0::bigint,
                        floor((sample + %(sd)s * sqrt(sample) + %(mn)s) / population * 4294967296.0)::bigint))),
                        8, '0'), 'hex')
        end
        """,
        {"sd": MARGIN_SD, "mn": MARGIN_MIN, "full": FULL_CUTOFF},
    )
    conn.execute("create unique index on sup_strata (stratum_id)")
    _insert_candidates(conn, refill_only=False)
    short = conn.execute(
        """
        update sup_strata as s set refill = true, cutoff = '\\xffffffff'::bytea
        from (
            select st.stratum_id
            from sup_strata as st
            left join (
                select c.stratum_id, count(*) as n from supervision._draw_candidates as c group by c.stratum_id
            ) as k on k.stratum_id = st.stratum_id
            where st.sample > coalesce(k.n, 0)
        ) as short
        where s.stratum_id = short.stratum_id
        """
    ).rowcount
    if short:
        conn.execute(
            "delete from supervision._draw_candidates as c using sup_strata as s "
            "where s.refill and c.stratum_id = s.stratum_id"
        )
        _insert_candidates(conn, refill_only=True)

    # the first n of each stratum
    temp_table(
        conn,
        "sup_drawn",
        """
        select s.member_unit, s.prefecture, s.item_id, s.is_white_listed, r.uscc
        from (
            select c.stratum_id, c.uscc, c.draw_hash,
                   row_number() over (partition by c.stratum_id order by c.draw_hash) as rn
            from supervision._draw_candidates as c
        ) as r
        join sup_strata as s on s.stratum_id = r.stratum_id
        where r.rn <= s.sample
        """,
    )
    conn.execute(
        """
        insert into supervision.plan_strata
            (as_of, plan_id, item_id, risk_class, is_white_listed, ratio_bp, ratio_source, inspection_mode,
             population, sample)
        select %(as_of)s, plan_id, item_id, risk_class, is_white_listed, ratio_bp, ratio_source, inspection_mode,
               population, sample
        from sup_strata
        """,
        params,
    )

    # tasks (一业一查): one per entity, period and prefecture
    temp_table(
        conn,
        "sup_tasks",
        """
        select %(period)s || '-' || d.prefecture || '-' || d.uscc as task_id, d.uscc, d.prefecture,
               array_agg(distinct d.member_unit::text collate "C" order by d.member_unit::text collate "C")
                   as member_units,
               array_agg(distinct d.item_id::text collate "C" order by d.item_id::text collate "C") as item_ids,
               bool_or(d.is_white_listed) as is_white_listed
        from sup_drawn as d
        group by d.prefecture, d.uscc
        """,
        params,
    )
    temp_table(
        conn,
        "sup_task_staffing",
        """
        select t.task_id, t.uscc, t.prefecture, t.member_units as units, ps.plan_seed::text as seed
        from sup_tasks as t
        join supervision.plan_seeds as ps
          on ps.plan_id = t.member_units[1] || '-' || t.prefecture || '-' || %(period)s
        """,
        params,
    )
    staff(conn, as_of, "sup_task_staffing", "sup_task_staff", int(p["inspectors_per_task"]))
    conn.execute(
        """
        insert into supervision.spot_check_tasks
            (as_of, task_id, plan_period, prefecture, uscc, task_type, inspection_mode, member_units, item_ids,
             first_unit, eligible_inspectors, inspector_ids, is_staffed)
        select %(as_of)s, t.task_id, %(period)s, t.prefecture, t.uscc,
               case when cardinality(t.member_units) > 1 then 'joint' else 'random' end,
               case when t.is_white_listed then %(wl_mode)s else %(default_mode)s end,
               t.member_units, t.item_ids, t.member_units[1],
               st.eligible_inspectors, st.inspector_ids, cardinality(st.inspector_ids) > 0
        from sup_tasks as t
        join sup_task_staff as st on st.task_id = t.task_id
        """,
        strata_params,
    )
    conn.execute(
        """
        insert into supervision.spot_check_plans
            (as_of, plan_id, member_unit, prefecture, plan_period, period_start, period_end, plan_seed,
             publication_id, ratio_mode, ratios_bp, strata, population, sample, tasks, joint_tasks,
             application_rate)
        select %(as_of)s, s.plan_id, min(s.member_unit), min(s.prefecture), %(period)s, %(start)s, %(end)s,
               min(s.plan_seed), %(publication_id)s,
               case when %(units)s ? min(s.member_unit) then 'flat' else 'class' end,
               %(class_ratios)s || jsonb_build_object('mode',
                   case when %(units)s ? min(s.member_unit) then 'flat' else 'class' end,
                   'flat', %(units)s -> min(s.member_unit) -> 'flat_ratio_bp'),
               count(*), sum(s.population), sum(s.sample),
               coalesce(max(t.tasks), 0), coalesce(max(t.joint_tasks), 0),
               round(count(*) filter (where s.ratio_source in ('class', 'key_item'))::numeric / count(*), 4)
        from sup_strata as s
        left join (
            select u.member_unit || '-' || k.prefecture || '-' || %(period)s as plan_id, count(*) as tasks,
                   count(*) filter (where cardinality(k.member_units) > 1) as joint_tasks
            from sup_tasks as k cross join lateral unnest(k.member_units) as u(member_unit)
            group by 1
        ) as t on t.plan_id = s.plan_id
        group by s.plan_id
        """,
        {
            **params,
            "start": start,
            "end": end,
            "publication_id": publication_id,
            "units": Jsonb(units),
            "class_ratios": Jsonb(
                {
                    "class": p["class_ratios_bp"],
                    "key_item": p["key_item_ratios_bp"],
                    "white_list": int(p["white_list_ratio_bp"]),
                }
            ),
        },
    )
    for work in ("_draw_frame", "_draw_scope_strata", "_draw_candidates"):
        drop_work_table(conn, work)
    row = conn.execute(
        """
        select (select count(*) from supervision.spot_check_plans where as_of = %(as_of)s),
               (select count(*) from supervision.plan_strata where as_of = %(as_of)s),
               (select count(*) from supervision.spot_check_tasks where as_of = %(as_of)s),
               (select count(*) from supervision.spot_check_tasks where as_of = %(as_of)s and task_type = 'joint'),
               (select count(*) from supervision.spot_check_tasks where as_of = %(as_of)s and not is_staffed),
               (select round(count(*) filter (where ratio_source in ('class', 'key_item'))::numeric
                             / nullif(count(*), 0), 4)
                from supervision.plan_strata where as_of = %(as_of)s)
        """,
        params,
    ).fetchone()
    assert row is not None
    return {
        "plan_period": label,
        "plans": row[0],
        "new_plan_seeds": len(missing),
        "strata": row[1],
        "refilled_strata": short,
        "tasks": row[2],
        "joint_tasks": row[3],
        "unstaffed_tasks": row[4],
        "application_rate": float(row[5]) if row[5] is not None else None,
    }


def _insert_candidates(conn: psycopg.Connection, refill_only: bool) -> None:
    """Pairs (stratum, entity) whose digest prefix is within the stratum's cut-off, into work table
    supervision._draw_candidates (made here, in parallel; a refill appends the refilled strata)."""
    # scope × strata first: the frame then meets one hash table on its five stratum keys
    work_table(
        conn,
        "_draw_scope_strata",
        f"""
        select st.stratum_id, s.entity_type, s.division_key, st.prefecture, st.risk_class, st.is_white_listed,
               st.item_id, st.plan_seed, st.cutoff
        from sup_item_scope as s
        join sup_strata as st on st.member_unit = s.member_unit and st.item_id = s.item_id
        where st.sample > 0 {"and st.refill" if refill_only else ""}
        """,
    )
    # the filter runs before the projection, so the digest is computed twice only for candidates
    pairs = """
        select x.stratum_id, x.uscc, x.draw_hash
        from (
            select ss.stratum_id, f.uscc, ss.cutoff,
                   sha256(convert_to(ss.plan_seed || ':' || ss.item_id || ':' || f.uscc::text, 'UTF8')) as draw_hash
            from supervision._draw_frame as f
            join supervision._draw_scope_strata as ss
              on ss.entity_type = f.entity_type and ss.division_key = f.division_key
             and ss.prefecture = f.prefecture and ss.risk_class = f.risk_class
             and ss.is_white_listed = f.is_white_listed
        ) as x
        where substring(x.draw_hash from 1 for 4) <= x.cutoff
    """
    if refill_only:
        conn.execute("insert into supervision._draw_candidates (stratum_id, uscc, draw_hash) " + pairs)
    else:
        # the one statement that touches every (item, entity) pair: a parallel CREATE TABLE AS
        work_table(conn, "_draw_candidates", pairs, parallel=True)


# ------------------------------------------------------------------------------ verification


def verify(plan_id: str, as_of: dt.date | None = None, out: Any = None) -> bool:
    """Re-draw a published plan from its published seed and inputs, independently of the SQL that
    drew it (Python hashlib), and print a confirmation or the differences. Latest as_of of the plan
    unless `as_of` is given. Returns True when the published plan is reproduced exactly."""
    import sys

    from credit_risk import db

    out = out or sys.stdout
    from credit_risk.supervision.settings import load

    digits = load().prefecture_digits
    with db.connect() as conn:
        ok, lines = _verify(conn, plan_id, as_of, digits)
        conn.rollback()
    for line in lines:
        print(line, file=out)
    return ok


def _draw_key(seed: str, item_id: str, uscc: str) -> str:
    """The auditor's ordering key: sha256(plan_seed:item_id:uscc) as lower-case hex."""
    return hashlib.sha256(f"{seed}:{item_id}:{uscc}".encode()).hexdigest()


def _verify(
    conn: psycopg.Connection, plan_id: str, as_of: dt.date | None, digits: int = 4
) -> tuple[bool, list[str]]:
    plan = conn.execute(
        """
        select p.as_of, p.member_unit, p.prefecture, p.plan_seed, p.ratios_bp, s.plan_seed
        from supervision.spot_check_plans as p
        left join supervision.plan_seeds as s on s.plan_id = p.plan_id
        where p.plan_id = %s and (%s::date is null or p.as_of = %s::date)
        order by p.as_of desc limit 1
        """,
        (plan_id, as_of, as_of),
    ).fetchone()
    if plan is None:
        return False, [f"plan {plan_id}: not found" + (f" for as_of {as_of}" if as_of else "")]
    p_as_of, unit, prefecture, seed, ratios, stored_seed = plan
    seed = seed.strip()
    problems: list[str] = []
    if stored_seed is None or stored_seed.strip() != seed:
        problems.append(f"the plan's seed {seed} differs from the seed register ({stored_seed})")

    items = conn.execute(
        "select item_id, industry_scope, entity_types, is_key_item from supervision.plan_items "
        "where as_of = %s and member_unit = %s",
        (p_as_of, unit),
    ).fetchall()
    # the published classes (not the frame's copy) and the frame's industry divisions
    entities = conn.execute(
        """
        select rc.uscc, rc.entity_type, rc.risk_class, f.industry_division
        from published.risk_classifications as rc
        left join supervision.plan_frame as f on f.as_of = rc.as_of and f.uscc = rc.uscc
        where rc.as_of = %s and left(rc.region_code, %s) = left(%s, %s)
        """,
        (p_as_of, digits, prefecture, digits),
    ).fetchall()
    sandbox = {
        r[0].strip()
        for r in conn.execute("select uscc from supervision.sandbox_members where as_of = %s", (p_as_of,))
    }
    white = {
        r[0].strip()
        for r in conn.execute("select uscc from supervision.white_list_members where as_of = %s", (p_as_of,))
    }
    by_kind: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for uscc, etype, cls, division in entities:
        uscc = uscc.strip()
        if uscc not in sandbox:
            by_kind[(etype, division or "")].append((uscc, cls))

    expected_strata: dict[tuple[str, str, bool], tuple[int, int, list[str]]] = {}
    for item_id, scope, types, is_key in items:
        scope_parts = scope.split(";")
        all_industries = "*" in scope_parts
        members: dict[tuple[str, bool], list[str]] = defaultdict(list)
        for (etype, division), rows in by_kind.items():
            if etype in types.split(";") and (all_industries or division in scope_parts):
                for uscc, cls in rows:
                    members[(cls, uscc in white)].append(uscc)
        for (cls, wl), usccs in members.items():
            if wl:
                bp = int(ratios["white_list"])
            elif ratios.get("mode") == "flat":
                bp = int(ratios["flat"])
            elif is_key and cls in ratios["key_item"]:
                bp = int(ratios["key_item"][cls])
            else:
                bp = int(ratios["class"][cls])
            n = -(-bp * len(usccs) // 10000)
            order = sorted(usccs, key=lambda u: _draw_key(seed, item_id, u))
            expected_strata[(item_id, cls, wl)] = (bp, len(usccs), order[:n])

    published: dict[tuple[str, str, bool], tuple[int, int, int]] = {
        (r[0], r[1], r[2]): (r[3], r[4], r[5])
        for r in conn.execute(
            "select item_id, risk_class, is_white_listed, ratio_bp, population, sample from supervision.plan_strata "
            "where as_of = %s and plan_id = %s",
            (p_as_of, plan_id),
        )
    }
    drawn: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
    # the published lists (what view supervision.plan_samples shows), read for this plan only
    for item_id, cls, wl, uscc in conn.execute(
        """
        select x.item_id, f.risk_class, f.is_white_listed, t.uscc
        from supervision.spot_check_tasks as t
        cross join lateral unnest(t.item_ids) as x(item_id)
        join supervision.plan_items as i on i.as_of = t.as_of and i.item_id = x.item_id and i.member_unit = %s
        join supervision.plan_frame as f on f.as_of = t.as_of and f.uscc = t.uscc
        where t.as_of = %s and t.prefecture = %s and %s = any(t.member_units)
        """,
        (unit, p_as_of, prefecture, unit),
    ):
        drawn[(item_id, cls, wl)].append(uscc.strip())

    for key in sorted(set(expected_strata) | set(published) | set(drawn)):
        label = f"item {key[0]} class {key[1]}{' white-listed' if key[2] else ''}"
        exp = expected_strata.get(key)
        pub = published.get(key)
        if exp is None:
            problems.append(f"{label}: published but no such population in the inputs")
            continue
        bp, population, sample = exp
        if pub is None:
            problems.append(f"{label}: population {population} missing from the published strata")
        elif pub != (bp, population, len(sample)):
            problems.append(
                f"{label}: published ratio/population/sample {pub}, re-drawn {(bp, population, len(sample))}"
            )
        got = drawn.get(key, [])
        if sorted(got) != sorted(sample):
            extra = sorted(set(got) - set(sample))
            lost = sorted(set(sample) - set(got))
            detail = f"not drawn by the seed: {extra[:5]}; drawn by the seed but missing: {lost[:5]}"
            if not extra and not lost:
                detail = "an entity listed twice"
            problems.append(f"{label}: published list differs from the re-draw ({detail})")
    total = sum(len(v[2]) for v in expected_strata.values())
    if problems:
        return False, [f"plan {plan_id} (as_of {p_as_of}) does NOT verify: {len(problems)} difference(s)"] + [
            f"  - {x}" for x in problems[:50]
        ]
    return True, [
        f"plan {plan_id} (as_of {p_as_of}) verified: {len(expected_strata)} strata, {total} entities "
        f"re-drawn from seed {seed} match the published list"
    ]
