"""`run_all(as_of)`: everything of supervision.md §1–§6 for one published as_of, in one transaction.

Order: memberships (sandbox, white list) → spot-check plans (they leave sandbox members out and
sample white-listed entities off-site) → warning rules and dispatch (W22 reads the sandbox) →
annual-report urging → credit repair. Re-running an as_of recomputes its results and reuses the
plan and dispatch seeds; when later as_ofs were supervised already, their membership steps are
replayed so the membership history stays consistent (their other results are reported as stale).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from credit_risk import db
from credit_risk.supervision import context, early_warning, memberships, plans, repair, urging
from credit_risk.supervision.schema import PER_AS_OF_TABLES, ensure_schema
from credit_risk.supervision.settings import Settings, load
from credit_risk.supervision.sqlutil import use_client_binding

log = logging.getLogger(__name__)
T = TypeVar("T")

# one supervision run at a time per warehouse (seeds are drawn once)
LOCK_KEY = 0x5355_5056  # "SUPV"


def run_all(as_of: dt.date, settings: Settings | None = None) -> dict[str, Any]:
    """Run spot-check plans, warning rules and dispatch, sandbox and white list, annual-report
    urging and credit repair for a published `as_of`; results in schema `supervision`.

    Refuses (context.NotPublishedError) when as_of is not published. Idempotent: a re-run
    recomputes that as_of's results and reuses existing plan and dispatch seeds. Returns a
    summary dict (counts per part)."""
    s = settings or load()
    t0 = time.monotonic()
    with db.connect() as conn:
        use_client_binding(conn)
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        ensure_schema(conn)
        publication_id = context.publication_id(conn, s, as_of)
        previous = context.previous_published_as_of(conn, s, as_of)
        result = _run(conn, s, as_of, publication_id, previous)
        result["seconds"] = round(time.monotonic() - t0, 2)
        conn.execute(
            "update supervision.runs set finished_at = now(), summary = %s where as_of = %s",
            (Jsonb(result), as_of),
        )
        conn.commit()
    log.info("supervision %s: %s", as_of, result)
    return result


def _run(
    conn: psycopg.Connection, s: Settings, as_of: dt.date, publication_id: int, previous: dt.date | None
) -> dict[str, Any]:
    for table in PER_AS_OF_TABLES:
        conn.execute(f"delete from supervision.{table} where as_of = %s", (as_of,))
    conn.execute(
        """
        insert into supervision.runs (as_of, publication_id, previous_as_of, config_sha256, started_at)
        values (%(as_of)s, %(pub)s, %(prev)s, %(sha)s, now())
        on conflict (as_of) do update set publication_id = excluded.publication_id,
            previous_as_of = excluded.previous_as_of, config_sha256 = excluded.config_sha256,
            started_at = excluded.started_at, finished_at = null, summary = null
        """,
        {"as_of": as_of, "pub": publication_id, "prev": previous, "sha": s.sha256},
    )
    steps: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., T], *args: Any) -> T:
        t = time.monotonic()
        out = fn(*args)
        steps[name] = round(time.monotonic() - t, 2)
        log.info("supervision %s: %s done in %.1f s", as_of, name, steps[name])
        return out

    active = timed("active_entities", context.prepare_active_entities, conn, s, as_of)
    sandbox = timed("sandbox", memberships.step_sandbox, conn, s, as_of)
    white = timed("white_list", memberships.step_white_list, conn, s, as_of)
    plan = timed("plans", plans.draw, conn, s, as_of, publication_id)
    warn = timed("warnings", early_warning.run, conn, s, as_of, previous)
    urge = timed("urging", urging.run, conn, s, as_of)
    rep = timed("repair", repair.run, conn, s, as_of)
    replayed = timed("replay", _replay_later_memberships, conn, s, as_of)
    return {
        "as_of": as_of.isoformat(),
        "publication_id": publication_id,
        "previous_as_of": previous.isoformat() if previous else None,
        "active_entities": active,
        "plans": plan,
        "warnings": warn,
        "sandbox": sandbox,
        "white_list": white,
        "urging": urge,
        "repair": rep,
        "later_as_ofs_replayed": [d.isoformat() for d in replayed],
        "step_seconds": steps,
    }


def _replay_later_memberships(conn: psycopg.Connection, s: Settings, as_of: dt.date) -> list[dt.date]:
    """Re-run the membership steps of later supervised as_ofs (history is a fold over as_ofs)."""
    later = [
        r[0]
        for r in conn.execute(
            """
            select r.as_of from supervision.runs as r
            where r.as_of > %(as_of)s
              and exists (select 1 from published.publications as p
                          where p.as_of = r.as_of and p.status = any(%(statuses)s))
            order by r.as_of
            """,
            {"as_of": as_of, "statuses": list(s.published_statuses)},
        )
    ]
    for d in later:
        context.prepare_active_entities(conn, s, d)
        memberships.step_sandbox(conn, s, d)
        memberships.step_white_list(conn, s, d)
    if later:
        log.warning(
            "supervision %s re-run: membership history of %s replayed; re-run those as_ofs to refresh "
            "their plans and warnings",
            as_of,
            ", ".join(map(str, later)),
        )
    return later
