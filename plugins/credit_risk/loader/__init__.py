"""Ingestion of department deliveries into the warehouse (landing -> `raw.*`, `ingest.*`).

Public API (called by the `ingest_deliveries` DAG, the batch CLI run and the benchmark):

    ensure_schema(conn)                       schemas raw/ingest, raw tables, ledger (idempotent)
    discover(landing) -> Discovery            ready / waiting / ignored delivery folders
    load_delivery(path, conn=None) -> LoadResult     one delivery, one transaction
    load_landing(landing, feeds=None, workers=1) -> list[LoadResult]
    accounting_violations(conn=None) -> list  deliveries where manifest rows != loaded + quarantined
    raise_for_rejections(results)             raises DeliveryRejected if any delivery was rejected
    benchmark_copy(landing) -> dict           loader throughput vs a raw server-side COPY

See `load.py` for the transaction and the decisions on duplicates, changed manifests and snapshots,
`reader.py` for line numbers, `validate.py` for the checks and the reason precedence.
"""

from credit_risk.loader.bench import benchmark_copy
from credit_risk.loader.discover import Discovery, discover
from credit_risk.loader.landing import accounting_violations, load_landing
from credit_risk.loader.load import DeliveryRejected, LoadResult, load_delivery, raise_for_rejections
from credit_risk.loader.manifest import REJECT_CODES, Reject
from credit_risk.loader.schema import ensure_schema

__all__ = [
    "REJECT_CODES",
    "DeliveryRejected",
    "Discovery",
    "LoadResult",
    "Reject",
    "accounting_violations",
    "benchmark_copy",
    "discover",
    "ensure_schema",
    "load_delivery",
    "load_landing",
    "raise_for_rejections",
]
