"""Glue between the thin DAG files and the package: what each task does.

Kept out of `dags/` so DAG files stay declarative and the logic is unit-testable.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from credit_risk import config

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def previous_month_end(moment: dt.datetime | dt.date | None = None) -> dt.date:
    """The last day of the month before `moment` (Asia/Shanghai): a scheduled run's as_of."""
    if moment is None:
        moment = dt.datetime.now(tz=SHANGHAI)
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(SHANGHAI)
        moment = moment.date()
    return moment.replace(day=1) - dt.timedelta(days=1)


def is_month_end(d: dt.date) -> bool:
    return (d + dt.timedelta(days=1)).day == 1


def resolve_as_of(context: dict[str, Any]) -> dt.date:
    """as_of of a run: run conf `as_of`, else the `as_of` of the triggering asset event, else the
    last day of the previous month. Must be a month end (indicators.md "Time")."""
    dag_run = context.get("dag_run")
    conf = (dag_run.conf if dag_run is not None else None) or {}
    value = conf.get("as_of")
    if not value:
        events = context.get("triggering_asset_events") or {}
        for evs in events.values():
            for ev in evs:
                extra = getattr(ev, "extra", None) or {}
                if extra.get("as_of"):
                    value = extra["as_of"]
    if value:
        as_of = dt.date.fromisoformat(str(value))
    else:
        as_of = previous_month_end(context.get("run_after") or context.get("logical_date"))
    if not is_month_end(as_of):
        raise ValueError(f"as_of must be the last day of a month, got {as_of}")
    return as_of


def landing_from(context: dict[str, Any]) -> Path:
    dag_run = context.get("dag_run")
    conf = (dag_run.conf if dag_run is not None else None) or {}
    return Path(conf.get("landing") or config.landing_root())


def triggered_by(context: dict[str, Any]) -> str:
    dr = context.get("dag_run")
    if dr is None:
        return "unknown"
    who = getattr(dr, "triggering_user_name", None) or ""
    return f"{dr.dag_id}/{dr.run_id} ({getattr(dr, 'run_type', '')}{', ' + who if who else ''})"
