"""Task bodies of the DAGs (called from `dags/*.py`). Each step's warehouse connections take the
least role that can do the step (`@acting_as`, security.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from credit_risk import security
from credit_risk.db import acting_as

log = logging.getLogger(__name__)


class IngestFailed(RuntimeError):
    """A delivery was rejected or the accounting identity does not hold."""


# ---------------------------------------------------------------- ingest


@acting_as(security.LOADER)
def discover_deliveries(landing: Path) -> dict:
    """The landing zone's deliveries (ready / waiting / ignored), as XCom-safe data."""
    from credit_risk.loader import discover

    return discover(landing).to_dict()


@acting_as(security.LOADER)
def load_feed_deliveries(found: dict, feed_key: str, context: dict[str, Any] | None = None) -> list[dict]:
    """Load the ready deliveries of one feed in date order; announce the feed's Asset if
    anything loaded. Rejections are reported by `ingest_report`, after every feed had its turn."""
    from credit_risk import db, loader
    from credit_risk.assets import RAW_ALIAS, raw_asset

    # discover() orders deliveries for loading (event feeds oldest first; snapshot feeds newest
    # first, so superseded snapshots need no hashing or COPY): keep its order.
    paths = [d for d in found.get("ready", []) if d["feed_key"] == feed_key]
    results: list[dict] = []
    if not paths:
        log.info("%s: nothing to load", feed_key)
        return results
    with db.connect() as conn:
        loader.ensure_schema(conn)
        conn.commit()
    for d in paths:
        r = loader.load_delivery(Path(d["path"]))
        rd = dataclasses.asdict(r)
        rd = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in rd.items()}
        results.append(rd)
        log.info(
            "%s %s: %s (%s loaded, %s quarantined, %s orphans) %s",
            feed_key,
            rd.get("delivery_date"),
            rd.get("status"),
            rd.get("rows_loaded"),
            rd.get("rows_quarantined"),
            rd.get("orphan_rows"),
            rd.get("reason") or "",
        )
    loaded = [r for r in results if r.get("status") == "accepted"]
    if context is not None and loaded:
        feed_name = feed_key.split("/", 1)[1]
        context["outlet_events"][RAW_ALIAS].add(
            raw_asset(feed_name),
            extra={
                "deliveries": [r["delivery_date"] for r in loaded],
                "rows_loaded": sum(r.get("rows_loaded") or 0 for r in loaded),
            },
        )
    return results


@acting_as(security.LOADER)
def ingest_report(found: dict, per_feed: list[list[dict] | None]) -> dict:
    """Summarise a load run; raise (fail visibly) on rejected deliveries or accounting errors."""
    from credit_risk import db, loader

    results = [r for feed in per_feed if feed for r in feed]
    rejected = [r for r in results if r.get("status") == "rejected"]
    summary = {
        "deliveries": len(results),
        "accepted": sum(r.get("status") == "accepted" for r in results),
        "duplicates": sum(r.get("status") == "duplicate" for r in results),
        "rejected": len(rejected),
        "rows_loaded": sum(r.get("rows_loaded") or 0 for r in results),
        "rows_quarantined": sum(r.get("rows_quarantined") or 0 for r in results),
        "waiting": found.get("waiting", []),
        "ignored": found.get("ignored", []),
    }
    with db.connect() as conn:
        loader.ensure_schema(conn)
        violations = loader.accounting_violations(conn)
    log.info("ingest summary: %s", {k: v for k, v in summary.items() if k not in ("waiting", "ignored")})
    for w in summary["waiting"]:
        log.warning("waiting for manifest: %s", w)
    for i in summary["ignored"]:
        log.warning("ignored (not a delivery): %s", i)
    problems = [
        f"rejected {r['department']}/{r['feed']} {r['delivery_date']}: {r.get('reason')}" for r in rejected
    ]
    problems += [f"accounting violation: {v}" for v in violations]
    if problems:
        raise IngestFailed("ingestion problems:\n  " + "\n  ".join(problems))
    return summary


# ---------------------------------------------------------------- gates and publication


def _report_to_dict(report: Any) -> dict:
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return json_safe(dataclasses.asdict(report))
    return json_safe(dict(report))


def json_safe(obj: Any) -> Any:
    """Make a structure XCom/JSON-safe (dates to ISO strings, tuples to lists, decimals to floats)."""
    import decimal

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [json_safe(v) for v in obj]
    if isinstance(obj, dt.date | dt.datetime):
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


@acting_as(security.TRANSFORMER)
def gate_task(kind: str, as_of: str, context: dict[str, Any]) -> dict:
    """Run the raw or output gate suites; returns the report (never raises on a failed
    expectation: publication decides, so every gate's outcome reaches the ledger)."""
    from credit_risk import gates

    run_id = context["dag_run"].run_id
    fn = gates.run_raw_gates if kind == "raw" else gates.run_output_gates
    report = fn(dt.date.fromisoformat(as_of), run_id)
    log.info("%s gates: %s", kind, report.summary() if hasattr(report, "summary") else report)
    docs = getattr(report, "data_docs", None)
    if docs:
        log.info("GX Data Docs: %s", docs)
    return _report_to_dict(report)


def dbt_results_from_states(context: dict[str, Any]) -> dict:
    """Outcome of the dbt tasks of this run (cosmos group or single task), from Airflow's own
    task states: a failed or missing dbt task blocks publication."""
    ti = context["ti"]
    dr = context["dag_run"]
    states = ti.get_task_states(dag_id=dr.dag_id, run_ids=[dr.run_id])
    per_task = states.get(dr.run_id, states) if isinstance(states, dict) else {}
    dbt = {k: v for k, v in per_task.items() if k.startswith("dbt")}
    failed = sorted(k for k, v in dbt.items() if str(v) != "success")
    return {"success": bool(dbt) and not failed, "tasks": len(dbt), "failed_tasks": failed}


@acting_as(security.TRANSFORMER)
def publish_task(as_of: str, reports: list[dict | None], context: dict[str, Any]) -> dict:
    """Publish the audited as_of if every gate passed; otherwise record the block and raise."""
    from credit_risk import pipeline
    from credit_risk.assets import PUBLISHED
    from credit_risk.gates import publish as pub

    dbt_results = dbt_results_from_states(context)
    result = pub.publish(
        dt.date.fromisoformat(as_of),
        context["dag_run"].run_id,
        [r for r in reports if r is not None],
        dbt_results,
        pipeline.triggered_by(context),
        missing_reports=sum(r is None for r in reports),
    )
    out = _report_to_dict(result)
    context["outlet_events"][PUBLISHED].extra = {
        "as_of": as_of,
        **{k: v for k, v in out.items() if k in ("publication_id", "rows")},
    }
    return out


# ---------------------------------------------------------------- downstream


@acting_as(security.TRANSFORMER)
def supervision_task(context: dict[str, Any]) -> dict:
    from credit_risk import pipeline, supervision

    as_of = pipeline.resolve_as_of(context)
    summary = supervision.run_all(as_of)
    log.info("supervision for %s:\n%s", as_of, supervision.summary(as_of))
    return json_safe(summary)


@acting_as(security.EXPORTER)
def exports_task(context: dict[str, Any]) -> dict:
    from credit_risk import exports, pipeline

    conf = (context["dag_run"].conf if context.get("dag_run") else None) or {}
    asset_triggered = bool(context.get("triggering_asset_events"))
    if conf.get("as_of") or asset_triggered:
        as_of = pipeline.resolve_as_of(context)
        return json_safe(exports.export_all(as_of))
    # a clock-triggered run re-sends the latest package to consumers due today
    today = dt.datetime.now(tz=pipeline.SHANGHAI).date()
    return json_safe(exports.resend_scheduled(today))
