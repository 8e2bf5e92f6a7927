"""The gates the DAG runs: raw (deliveries and raw rows) and output (the audit marts).

Neither raises for a failed expectation: the report carries the verdict to `publish`,
which records every outcome in the ledger and blocks. They raise only when the
warehouse itself cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import psycopg

from credit_risk import db
from credit_risk.gates import reference
from credit_risk.gates import settings as gate_settings
from credit_risk.gates import suites as suite_lib
from credit_risk.gates.report import GateReport, dbt_report
from credit_risk.gates.runner import run_suites
from credit_risk.gates.schema import ensure_published_schema

log = logging.getLogger(__name__)

AUDIT_TABLES = ("indicator_scores", "risk_classifications", "credit_evaluations", "level2_scores")
_SCHEMAS = ("raw", "ingest", "audit", "staging", "published")


def _existing_tables(conn: psycopg.Connection) -> frozenset[str]:
    rows = conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables where table_schema = any(%s)",
        (list(_SCHEMAS),),
    ).fetchall()
    return frozenset(r[0] for r in rows)


def delivery_window(conn: psycopg.Connection, tables: frozenset[str]) -> tuple[int, int]:
    """(since, upto]: deliveries loaded since the previous publication.

    `since` is the high-water mark recorded by the latest successful publication (any
    as_of; 0 before the first), `upto` the highest delivery id now.
    """
    row = conn.execute(
        "select delivery_id_max from published.publications where status = 'published' "
        "and delivery_id_max is not null order by publication_id desc limit 1"
    ).fetchone()
    since = int(row[0]) if row else 0
    upto = since
    if "ingest.deliveries" in tables:
        r = conn.execute("select coalesce(max(delivery_id), 0) from ingest.deliveries").fetchone()
        upto = max(int(r[0]) if r else 0, since)
    return since, upto


def audit_fingerprint(conn: psycopg.Connection) -> dict[str, list[int]]:
    """(oid, relfilenode) of each audit table: a dbt rebuild (new table, or truncate)
    changes it, so publish can tell that the rows it copies are the rows that were gated."""
    rows = conn.execute(
        "select c.relname, c.oid::bigint, c.relfilenode::bigint from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'audit' and c.relname = any(%s)",
        (list(AUDIT_TABLES),),
    ).fetchall()
    return {r[0]: [int(r[1]), int(r[2])] for r in rows}


def previous_publication(conn: psycopg.Connection, as_of: dt.date) -> tuple[int, dt.date] | None:
    """The publication in force for the latest published as_of before `as_of`."""
    row = conn.execute(
        "select publication_id, as_of from published.publications where status = 'published' and as_of < %s "
        "order by as_of desc, publication_id desc limit 1",
        (as_of,),
    ).fetchone()
    return (int(row[0]), row[1]) if row else None


def drift_approval(conn: psycopg.Connection, as_of: dt.date) -> dict[str, Any] | None:
    """The latest drift approval recorded for `as_of`, if any."""
    row = conn.execute(
        "select approved_by, approved_at, reason from published.drift_approvals where as_of = %s "
        "order by approved_at desc, approval_id desc limit 1",
        (as_of,),
    ).fetchone()
    if not row:
        return None
    return {"approved_by": row[0], "approved_at": row[1].isoformat(), "reason": row[2]}


def run_raw_gates(as_of: dt.date, run_id: str) -> GateReport:
    """Raw gate: one GX suite per feed over the deliveries loaded since the previous
    publication (accounting identity, quarantine and orphan rates, freshness of the
    monthly feeds for the as_of month, values of the loaded rows). See expectations/raw_feed.py."""
    settings = gate_settings.load()
    with db.connect() as conn:
        ensure_published_schema(conn)
        tables = _existing_tables(conn)
        since, upto = delivery_window(conn, tables)
    ctx = suite_lib.SuiteContext(
        gate="raw",
        as_of=as_of,
        settings=settings,
        reference=reference.load(),
        since_delivery_id=since,
        upto_delivery_id=upto,
        existing_tables=tables,
    )
    specs = suite_lib.build(ctx)
    meta = {"since_delivery_id": since, "delivery_id_max": upto}
    report = run_suites("raw", as_of, run_id, specs, meta)
    log.info("%s", report.summary())
    return report


def run_output_gates(as_of: dt.date, run_id: str) -> GateReport:
    """Output gate: GX suites over audit.* of `as_of` (coverage, score ranges, classes and
    grades, explanations, second-level scores, drift against the previous published as_of).
    See expectations/output_*.py."""
    settings = gate_settings.load()
    with db.connect() as conn:
        ensure_published_schema(conn)
        tables = _existing_tables(conn)
        previous = previous_publication(conn, as_of)
        approval = drift_approval(conn, as_of)
        before = audit_fingerprint(conn)
    ctx = suite_lib.SuiteContext(
        gate="output",
        as_of=as_of,
        settings=settings,
        reference=reference.load(),
        previous_as_of=previous[1] if previous else None,
        previous_publication_id=previous[0] if previous else None,
        drift_approval=approval,
        existing_tables=tables,
    )
    specs = suite_lib.build(ctx)
    meta: dict[str, Any] = {
        "audit_fingerprint": before,
        "previous_as_of": previous[1] if previous else None,
        "previous_publication_id": previous[0] if previous else None,
        "drift_approval": approval,
    }
    report = run_suites("output", as_of, run_id, specs, meta)
    with db.connect() as conn:
        after = audit_fingerprint(conn)
    if after != before:
        # dbt rebuilt audit while the suites ran: what was validated is not what is there
        report.results.append(
            {
                "suite": "output",
                "expectation": "audit_unchanged_during_validation",
                "column": None,
                "description": "the audit tables were not rebuilt while the gate ran",
                "success": False,
                "observed": {"before": before, "after": after},
                "threshold": {"min": None, "max": None},
            }
        )
        report.success = False
    log.info("%s", report.summary())
    return report


def run_gates(as_of: dt.date, run_id: str, dbt_results: dict[str, Any] | None = None) -> list[GateReport]:
    """Every gate for one as_of (raw, output, and dbt's test results when given)."""
    reports = [run_raw_gates(as_of, run_id), run_output_gates(as_of, run_id)]
    if dbt_results is not None:
        reports.append(dbt_report(as_of, run_id, dbt_results))
    return reports
