"""Write-audit-publish, the publish step: audit.* of one as_of -> published.*, all or nothing.

`publish()` takes the gate reports of a run. If any gate failed (or a required one is
missing, or dbt's tests failed) it records a 'blocked' publication in the ledger, notifies,
and raises `GateFailed`; published.* is not touched. Otherwise ONE transaction deletes the
as_of's published rows, inserts the audit rows with a new publication_id, and records the
'published' ledger row with row and class counts; if anything in it fails, PostgreSQL rolls
it all back and the block is recorded instead.

Two runs publishing the same as_of at once: a session advisory lock per as_of serialises
them; the second waits (up to `publish.lock_timeout_seconds`) and then replaces the first's
rows, so rows are never duplicated and the ledger keeps both publications. Past the
timeout it gives up and records a block.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

import psycopg

from credit_risk import db
from credit_risk.gates import settings as gate_settings
from credit_risk.gates.report import (
    GateFailed,
    GateReport,
    PublicationResult,
    dbt_report,
    describe,
    json_safe,
)
from credit_risk.gates.schema import (
    LOCK_PUBLISH,
    SCHEMA,
    TABLES,
    attach_partition,
    columns,
    ensure_published_schema,
    partition_exists,
    partition_name,
)

log = logging.getLogger(__name__)

__all__ = ["GateFailed", "PublicationResult", "approve", "publish"]


class _Abort(Exception):
    """A check inside the publish transaction failed: roll back and record a block."""


def _lock_key(as_of: dt.date) -> tuple[int, int]:
    return LOCK_PUBLISH, as_of.toordinal()


def _precondition_failures(
    as_of: dt.date, reports: list[GateReport], missing_reports: int, dbt_given: bool
) -> list[dict[str, Any]]:
    settings = gate_settings.load()
    out: list[dict[str, Any]] = []

    def fail(expectation: str, description: str, observed: Any) -> None:
        out.append(
            {
                "suite": "publish",
                "expectation": expectation,
                "column": None,
                "description": description,
                "success": False,
                "observed": observed,
                "threshold": {"min": None, "max": None},
            }
        )

    for r in reports:
        if r.as_of != as_of:
            fail("report_for_as_of", f"the {r.name} gate report is for {as_of}", r.as_of.isoformat())
    names = {r.name for r in reports}
    for gate in settings.required_gates:
        if gate not in names:
            fail("gate_ran", f"the {gate} gate ran and reported", "no report")
    if missing_reports:
        fail("gate_ran", "every gate task delivered its report", f"{missing_reports} report(s) missing")
    if settings.require_dbt_results and not dbt_given:
        fail("dbt_results_given", "dbt's test results reached publish", "none")
    return out


def _ledger_payload(reports: list[GateReport], extra: list[dict[str, Any]]) -> dict[str, Any]:
    gate_results = []
    failed: list[str] = []
    for r in reports:
        failures = r.failures()
        if not r.success and not failures:
            failures = [
                {
                    "suite": r.name,
                    "expectation": "gate_succeeded",
                    "success": False,
                    "observed": r.meta.get("error", "failed"),
                }
            ]
        failed += [f"{r.name}: {describe(f)}" for f in failures]
        gate_results.append(
            {
                "name": r.name,
                "success": r.success,
                "seconds": r.seconds,
                "data_docs": r.data_docs,
                "failing_expectations": [describe(f) for f in failures],
                "results": r.results,
                "meta": r.meta,
            }
        )
    if extra:
        failed += [f"publish: {describe(f)}" for f in extra]
        gate_results.append(
            {
                "name": "publish",
                "success": False,
                "seconds": 0.0,
                "data_docs": None,
                "failing_expectations": [describe(f) for f in extra],
                "results": extra,
                "meta": {},
            }
        )
    return {
        "gate_results": json_safe(gate_results),
        "failed": failed,
        "durations": {r.name: r.seconds for r in reports},
        "data_docs": {r.name: r.data_docs for r in reports if r.data_docs},
    }


def _record_blocked(
    conn: psycopg.Connection,
    as_of: dt.date,
    run_id: str,
    triggered_by: str,
    started_at: dt.datetime,
    payload: dict[str, Any],
    summary: str,
) -> int:
    with conn.transaction():
        row = conn.execute(
            f"""insert into {SCHEMA}.publications
                (as_of, run_id, status, triggered_by, started_at, finished_at, gate_results,
                 failed_expectations, durations, data_docs, summary)
            values (%s, %s, 'blocked', %s, %s, clock_timestamp(), %s, %s, %s, %s, %s)
            returning publication_id""",
            (
                as_of,
                run_id,
                triggered_by,
                started_at,
                json.dumps(payload["gate_results"]),
                payload["failed"],
                json.dumps(payload["durations"]),
                json.dumps(payload["data_docs"]),
                summary,
            ),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _notify(subject: str, body: str) -> None:
    """Alert through credit_risk.notify when it exists; the log otherwise."""
    try:
        from credit_risk import notify as notifier  # type: ignore[attr-defined]
    except ImportError:
        log.warning("%s\n%s", subject, body)
        return
    try:
        notifier.notify(subject, body)
    except Exception:  # noqa: BLE001 - an alert that fails must not hide the block itself
        log.exception("notification failed: %s", subject)


def _block(
    conn: psycopg.Connection,
    as_of: dt.date,
    run_id: str,
    triggered_by: str,
    started_at: dt.datetime,
    reports: list[GateReport],
    extra: list[dict[str, Any]],
) -> GateFailed:
    payload = _ledger_payload(reports, extra)
    lines = [f"publication of {as_of} blocked (run {run_id}, {triggered_by}):"]
    lines += ["  " + f for f in payload["failed"]] or ["  (no failing expectation recorded)"]
    for name, path in payload["data_docs"].items():
        lines.append(f"  Data Docs ({name}): {path}")
    summary = "\n".join(lines)
    pid = _record_blocked(conn, as_of, run_id, triggered_by, started_at, payload, summary)
    summary = summary.replace("blocked (", f"blocked, ledger publication {pid} (", 1)
    log.error("%s", summary)
    _notify(f"[credit-risk] publication of {as_of} blocked", summary)
    return GateFailed(summary, publication_id=pid, failures=payload["failed"])


def _copy(conn: psycopg.Connection, table: str, as_of: dt.date, publication_id: int) -> int:
    """Replace the as_of's published rows of one table by the audit rows (inside the
    publish transaction). First publication of an as_of: the partition is created, loaded
    and only then attached, so its indexes are built once, sorted, instead of row by row
    (and, with wal_level=minimal, a table created in the transaction is not WAL-logged).
    Re-publication: the partition's rows are deleted and inserted (MVCC: readers keep
    seeing the previous publication until commit)."""
    cols = ", ".join(columns(table))
    part = partition_name(table, as_of)
    select = f"select {cols}, %s from audit.{table} where as_of = %s"
    if partition_exists(conn, table, as_of):
        conn.execute(f"delete from {SCHEMA}.{table} where as_of = %s", (as_of,))  # type: ignore[arg-type]
        cur = conn.execute(
            f"insert into {SCHEMA}.{table} ({cols}, publication_id) {select}",  # type: ignore[arg-type]
            (publication_id, as_of),
        )
        return cur.rowcount
    # a detached leftover of that name would be ours (we hold the as_of's lock): replace it
    conn.execute(f"drop table if exists {SCHEMA}.{part}")  # type: ignore[arg-type]
    conn.execute(f"create table {SCHEMA}.{part} (like {SCHEMA}.{table} including defaults)")  # type: ignore[arg-type]
    cur = conn.execute(
        f"insert into {SCHEMA}.{part} ({cols}, publication_id) {select}",  # type: ignore[arg-type]
        (publication_id, as_of),
    )
    attach_partition(conn, table, as_of)
    return cur.rowcount


def _class_counts(conn: psycopg.Connection, as_of: dt.date) -> dict[str, dict[str, int]]:
    from credit_risk.gates import reference

    counts: dict[str, dict[str, int]] = {}
    for system, cls, n in conn.execute(
        f"select system_code, risk_class, count(*) from {SCHEMA}.risk_classifications where as_of = %s "
        "group by 1, 2 order by 1, 2",
        (as_of,),
    ):
        counts.setdefault(system, {})[cls] = int(n)
    grade_systems = reference.load().grade_systems
    for system in grade_systems:
        for grade, n in conn.execute(
            f"select credit_grade, count(*) from {SCHEMA}.credit_evaluations where as_of = %s group by 1 order by 1",
            (as_of,),
        ):
            counts.setdefault(system.code, {})[grade] = int(n)
    return counts


def publish(
    as_of: dt.date,
    run_id: str,
    reports: list[GateReport | dict[str, Any] | None],
    dbt_results: dict[str, Any] | None = None,
    triggered_by: str = "unknown",
    missing_reports: int = 0,
) -> PublicationResult:
    """Publish audit.* of `as_of` if every gate passed; else record the block and raise.

    `reports`: the GateReports (or their dicts) of run_raw_gates / run_output_gates; a None
    entry counts as a missing report. `dbt_results`: dbt's test outcome (see
    `report.dbt_report` for the accepted forms), recorded as the gate `dbt_tests`.
    `triggered_by`: who or what started the run (Airflow run id / DAG, CLI user).
    Raises `GateFailed` (with a summary naming the failing expectations) when blocked.
    """
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    settings = gate_settings.load()
    missing_reports += sum(r is None for r in reports)
    gate_reports = [GateReport.coerce(r) for r in reports if r is not None]
    if dbt_results is not None:
        gate_reports.append(dbt_report(as_of, run_id, dbt_results))
    extra = _precondition_failures(as_of, gate_reports, missing_reports, dbt_results is not None)
    with db.connect(autocommit=True) as conn:
        ensure_published_schema(conn)
        if extra or not all(r.success for r in gate_reports):
            raise _block(conn, as_of, run_id, triggered_by, started_at, gate_reports, extra)
        conn.execute(f"set lock_timeout = '{int(settings.lock_timeout_seconds)}s'")  # type: ignore[arg-type]
        try:
            conn.execute("select pg_advisory_lock(%s, %s)", _lock_key(as_of))
        except psycopg.errors.LockNotAvailable:
            raise _block(
                conn,
                as_of,
                run_id,
                triggered_by,
                started_at,
                gate_reports,
                [_failure("publish_lock", "no other publication of this as_of holds the lock", "timeout")],
            ) from None
        try:
            try:
                result = _publish_locked(conn, as_of, run_id, triggered_by, started_at, started, gate_reports)
            except (_Abort, psycopg.Error) as e:
                raise _block(
                    conn,
                    as_of,
                    run_id,
                    triggered_by,
                    started_at,
                    gate_reports,
                    [
                        _failure(
                            "publish_transaction",
                            "the publish transaction committed",
                            f"{type(e).__name__}: {e}",
                        )
                    ],
                ) from e
        finally:
            conn.execute("select pg_advisory_unlock(%s, %s)", _lock_key(as_of))
    log.info(
        "published %s as publication %s: %s (%.1f s)",
        as_of,
        result.publication_id,
        result.rows,
        result.seconds,
    )
    return result


def _failure(expectation: str, description: str, observed: Any) -> dict[str, Any]:
    return {
        "suite": "publish",
        "expectation": expectation,
        "column": None,
        "description": description,
        "success": False,
        "observed": observed,
        "threshold": {"min": None, "max": None},
    }


def _publish_locked(
    conn: psycopg.Connection,
    as_of: dt.date,
    run_id: str,
    triggered_by: str,
    started_at: dt.datetime,
    started: float,
    reports: list[GateReport],
) -> PublicationResult:
    from credit_risk.gates.run import audit_fingerprint

    payload = _ledger_payload(reports, [])
    raw = next((r for r in reports if r.name == "raw"), None)
    output = next((r for r in reports if r.name == "output"), None)
    delivery_id_max = raw.meta.get("delivery_id_max") if raw else None
    with conn.transaction():
        # SHARE: dbt cannot rebuild or write audit.* until this transaction ends
        conn.execute("lock table " + ", ".join(f"audit.{t}" for t in TABLES) + " in share mode")  # type: ignore[arg-type]
        if output is not None:
            gated = output.meta.get("audit_fingerprint")
            now = audit_fingerprint(conn)
            if gated is not None and {k: list(v) for k, v in gated.items()} != now:
                raise _Abort(
                    f"audit tables were rebuilt after the output gate ran (gated {gated}, now {now})"
                )
        row = conn.execute(
            f"""insert into {SCHEMA}.publications
                (as_of, run_id, status, triggered_by, started_at, gate_results, durations, data_docs,
                 delivery_id_max, summary)
            values (%s, %s, 'published', %s, %s, %s, %s, %s, %s, %s)
            returning publication_id""",
            (
                as_of,
                run_id,
                triggered_by,
                started_at,
                json.dumps(payload["gate_results"]),
                json.dumps(payload["durations"]),
                json.dumps(payload["data_docs"]),
                delivery_id_max,
                f"published {as_of}: every gate passed",
            ),
        ).fetchone()
        assert row is not None
        publication_id = int(row[0])
        t_copy = time.monotonic()
        rows = {table: _copy(conn, table, as_of, publication_id) for table in TABLES}
        if rows["indicator_scores"] == 0 or rows["risk_classifications"] == 0:
            raise _Abort(f"nothing to publish for {as_of} in audit.*: {rows}")
        class_counts = _class_counts(conn, as_of)
        durations = {**payload["durations"], "publish_copy": round(time.monotonic() - t_copy, 3)}
        durations["publish"] = round(time.monotonic() - started, 3)
        conn.execute(
            f"""update {SCHEMA}.publications
            set finished_at = clock_timestamp(), row_counts = %s, class_counts = %s, durations = %s
            where publication_id = %s""",
            (json.dumps(rows), json.dumps(class_counts), json.dumps(durations), publication_id),
        )
    return PublicationResult(
        publication_id=publication_id,
        as_of=as_of,
        run_id=run_id,
        status="published",
        rows=rows,
        class_counts=class_counts,
        seconds=round(time.monotonic() - started, 3),
        data_docs=payload["data_docs"],
    )


def approve(as_of: dt.date, reason: str, by: str) -> None:
    """Record a drift approval for `as_of` (CLI: `credit-risk approve --as-of D --reason T`).

    The next output gate for that as_of lets class and grade shares move beyond the
    configured bound; the approval (who, when, why) is named in its Data Docs and ledger row.
    """
    if not reason or not reason.strip():
        raise ValueError("a drift approval needs a reason")
    if not by or not by.strip():
        raise ValueError("a drift approval needs the approver's name")
    with db.connect() as conn:
        ensure_published_schema(conn)
        conn.execute(
            f"insert into {SCHEMA}.drift_approvals (as_of, approved_by, reason) values (%s, %s, %s)",
            (as_of, by.strip(), reason.strip()),
        )
        conn.commit()
    log.info("drift approval recorded for %s by %s: %s", as_of, by, reason)
