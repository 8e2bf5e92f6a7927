"""Exports of the published results to downstream departments (spec/supervision.md §7-§8).

One package per consuming department and scenario for a published as_of, holding only the rows
and columns that department is entitled to (config/consumers.yml, config/scenarios.yml): CSV
(UTF-8 with BOM or GB18030) and optionally Parquet, plus `_manifest.json` (rows, sha256).
Packages are complete or absent, byte-identical when re-run, and recorded in `exports.ledger`.

    export_all(as_of=None, root=None)   packages for a published as_of (None: the latest)
    resend_scheduled(today)             re-send the latest package on fixed delivery days
    summary(as_of)                      one screen for `make demo`
    ensure_schema(conn)                 schema `exports` and the ledger

Delivery layout under CREDIT_RISK_EXPORT_ROOT (a folder, or an object-storage URL):

    <consumer>/<scenario>/<as_of>/credit_evaluations.csv      CSV, UTF-8 with BOM or GB18030
                                  credit_evaluations.parquet  if the consumer takes Parquet
                                  <other entitled tables>.csv / .parquet
                                  _manifest.json              written last: rows, bytes, sha256
    <consumer>/_resend/<day>/<scenario>/<as_of>/              byte copies on fixed delivery days

Modules: entitlements (YAML -> validated config), query (the COPY of one file), writer (stream
into CSV / Parquet), target (file system or object storage, complete or absent), ledger, run.
"""

from credit_risk.exports.entitlements import ConfigError, ExportConfig, load_config
from credit_risk.exports.run import (
    ExportError,
    ensure_schema,
    export_all,
    resend_scheduled,
    summary,
    verify_package,
)
from credit_risk.exports.target import ExportTargetError, target_for

__all__ = [
    "ConfigError",
    "ExportConfig",
    "ExportError",
    "ExportTargetError",
    "ensure_schema",
    "export_all",
    "load_config",
    "resend_scheduled",
    "summary",
    "target_for",
    "verify_package",
]
