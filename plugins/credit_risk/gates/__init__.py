"""Data-quality gates and write-audit-publish (issue 6).

dbt builds the marts of one as_of into schema `audit`; these gates validate them (and the
deliveries behind them) with Great Expectations, and `publish` moves them into `published`
in one transaction only when every gate passed.

    run_raw_gates(as_of, run_id) -> GateReport          deliveries + raw rows since the last publication
    run_output_gates(as_of, run_id) -> GateReport       audit.* of the as_of
    publish.publish(as_of, run_id, reports, dbt_results, triggered_by) -> PublicationResult
    publish.approve(as_of, reason, by)                  drift approval (CLI `credit-risk approve`)
    ensure_published_schema(conn)                       schema `published` (idempotent)

Suites live in `<project>/expectations/` (one module per gate concern), thresholds in
`config/gates.yml`, Data Docs under `<home>/gx/data_docs/<as_of>/<run_id>/<gate>/index.html`.
"""

from __future__ import annotations

from credit_risk.gates import publish
from credit_risk.gates.report import GateFailed, GateReport, PublicationResult, dbt_report
from credit_risk.gates.run import run_gates, run_output_gates, run_raw_gates
from credit_risk.gates.schema import ensure_published_schema

__all__ = [
    "GateFailed",
    "GateReport",
    "PublicationResult",
    "dbt_report",
    "ensure_published_schema",
    "publish",
    "run_gates",
    "run_output_gates",
    "run_raw_gates",
]
