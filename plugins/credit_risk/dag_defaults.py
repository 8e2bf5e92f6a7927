"""Defaults every DAG of the project shares (owner, retries, failure alerts)."""

from __future__ import annotations

import datetime as dt
import logging

log = logging.getLogger(__name__)

OWNER = "credit-risk-data"

# Tag allow-list: the DAG policy test rejects any other tag.
ALLOWED_TAGS = frozenset(
    {"ingest", "raw", "dbt", "gates", "publish", "supervision", "exports", "credit-risk"}
)

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=20),
    "retry_exponential_backoff": False,
}


def on_failure_alert(context) -> None:
    """DAG failure callback: one alert through the project's notifier."""
    dr = context.get("dag_run")
    subject = f"[credit-risk] DAG run failed: {getattr(dr, 'dag_id', '?')} {getattr(dr, 'run_id', '')}"
    body = f"reason: {context.get('reason', 'task failure')}"
    try:
        from credit_risk.notify import notify

        notify(subject, body, severity="error")
    except Exception:  # the alert must never mask the failure itself
        log.exception("failure alert could not be sent: %s", subject)
