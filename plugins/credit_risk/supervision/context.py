"""What a supervision run starts from: the publication ledger and the classified entities."""

from __future__ import annotations

import datetime as dt

import psycopg

from credit_risk.supervision.settings import Settings
from credit_risk.supervision.sqlutil import prefecture_sql, temp_table


class NotPublishedError(RuntimeError):
    """Supervision runs only on published results; this as_of has none."""


def publication_id(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> int:
    """The latest publication of `as_of` in the ledger; NotPublishedError when there is none."""
    have = conn.execute("select to_regclass('published.publications') is not null").fetchone()
    if not have or not have[0]:
        raise NotPublishedError(f"{as_of}: no publication ledger (published.publications) in this warehouse")
    row = conn.execute(
        "select max(publication_id) from published.publications where as_of = %(as_of)s "
        "and status = any(%(statuses)s)",
        {"as_of": as_of, "statuses": list(settings.published_statuses)},
    ).fetchone()
    if not row or row[0] is None:
        raise NotPublishedError(
            f"{as_of} is not published (no ledger row with status in {list(settings.published_statuses)}); "
            "supervision runs only on published results"
        )
    return int(row[0])


def previous_published_as_of(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> dt.date | None:
    """The latest published as_of before `as_of` (W18), or None."""
    row = conn.execute(
        "select max(as_of) from published.publications where as_of < %(as_of)s and status = any(%(statuses)s)",
        {"as_of": as_of, "statuses": list(settings.published_statuses)},
    ).fetchone()
    return row[0] if row else None


def prepare_active_entities(conn: psycopg.Connection, settings: Settings, as_of: dt.date) -> int:
    """Temporary table `active_entities`: the entities classified at as_of (published: exactly the
    active ones) with prefecture, class and the registration details the rules read."""
    pref = prefecture_sql(settings, "rc.region_code")
    n = temp_table(
        conn,
        "active_entities",
        f"""
        select distinct on (rc.uscc)
               rc.uscc, rc.entity_type, rc.region_code, {pref} as prefecture, rc.risk_class,
               r.industry_code::text as industry_code, left(r.industry_code, 2) as industry_division,
               r.established_on, r.registered_capital, r.address, r.legal_rep_id_no, r.contact_phone,
               coalesce(r.is_four_new, false) as is_four_new
        from published.risk_classifications as rc
        left join staging.stg_samr__registration as r on r.uscc = rc.uscc
        where rc.as_of = %(as_of)s
        order by rc.uscc, rc.system_code
        """,
        {"as_of": as_of},
    )
    conn.execute("create unique index on active_entities (uscc)")
    return n
