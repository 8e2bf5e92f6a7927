"""Ingest department deliveries from the landing zone into the typed raw tables."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from credit_risk.assets import RAW_ALIAS
from credit_risk.dag_defaults import DEFAULT_ARGS, on_failure_alert

DOC = """
### Ingest department deliveries 部门数据归集

Loads every delivery under the landing root
(`<landing>/<department>/<feed>/<YYYYMMDD>/` with `_manifest.json`, per `shared/spec/feeds.md`)
into the typed `raw.*` tables.

* **discover** lists ready deliveries (manifest present, not loaded yet), folders still waiting
  for their manifest, and anything under the landing root that is not a delivery (ignored and
  reported in `ingest.reports`).
* **wait_for_manifests** waits (reschedule mode, so no worker slot is held) until no delivery is
  waiting, up to the deadline `manifest_deadline_minutes`; in a batch run (`conf.batch = true`,
  what `credit-risk run` passes) it does not wait.
* **load_registration** loads the registry snapshot first, so orphan counts of the other feeds are
  measured against the newest registry.
* **load_feed** (dynamic task mapping, one mapped instance per feed with ready deliveries, 2 at a
  time on this 2-core machine) loads each delivery as **one transaction**: manifest checks,
  decoding, vectorized validation, bulk `COPY`, quarantine of bad rows with a reason, personal data
  replaced by HMAC-SHA-256. Each loaded feed updates its Asset `raw.<feed>`.
* **report** checks the accounting identity of every delivery (manifest rows = loaded + quarantined)
  and fails the run visibly when a delivery was rejected (after everything else loaded); alerts go
  through the configured notifier.

Re-running is safe: a delivery already loaded with the same checksums is a no-op.
"""


@dag(
    dag_id="ingest_deliveries",
    schedule="*/30 * * * *",
    start_date=dt.datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=2,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_failure_alert,
    tags=["ingest", "raw"],
    doc_md=DOC,
    params={"batch": False, "manifest_deadline_minutes": 24 * 60},
)
def ingest_deliveries():
    @task
    def discover() -> dict:
        from airflow.sdk import get_current_context

        from credit_risk import pipeline
        from credit_risk.pipeline_tasks import discover_deliveries

        return discover_deliveries(pipeline.landing_from(get_current_context()))

    @task.sensor(poke_interval=300, timeout=24 * 3600, mode="reschedule", soft_fail=True)
    def wait_for_manifests(found: dict) -> bool:
        """True when no delivery folder is waiting for its manifest (or in a batch run)."""
        from airflow.sdk import get_current_context

        ctx = get_current_context()
        conf = ctx["dag_run"].conf or {}
        if conf.get("batch") or not found.get("waiting"):
            return True
        from credit_risk import pipeline
        from credit_risk.pipeline_tasks import discover_deliveries

        again = discover_deliveries(pipeline.landing_from(ctx))
        return not again.get("waiting")

    @task(trigger_rule="none_failed", outlets=[RAW_ALIAS])
    def load_registration(found: dict) -> list[dict]:
        from airflow.sdk import get_current_context

        from credit_risk.pipeline_tasks import load_feed_deliveries

        return load_feed_deliveries(found, "samr/registration", get_current_context())

    @task(trigger_rule="none_failed")
    def feeds_to_load(found: dict, _registration: list[dict]) -> list[str]:
        return sorted({d["feed_key"] for d in found.get("ready", []) if d["feed_key"] != "samr/registration"})

    @task(max_active_tis_per_dagrun=2, outlets=[RAW_ALIAS], map_index_template="{{ feed_key }}")
    def load_feed(feed_key: str, found: dict) -> list[dict]:
        from airflow.sdk import get_current_context

        from credit_risk.pipeline_tasks import load_feed_deliveries

        return load_feed_deliveries(found, feed_key, get_current_context())

    @task(trigger_rule="all_done")
    def report(found: dict, registration: list[dict], loaded: list[list[dict]]) -> dict:
        from credit_risk.pipeline_tasks import ingest_report

        return ingest_report(found, [registration, *(loaded or [])])

    found = discover()
    waited = wait_for_manifests(found)
    reg = load_registration(found)
    waited >> reg
    feeds = feeds_to_load(found, reg)
    loaded = load_feed.partial(found=found).expand(feed_key=feeds)
    report(found, reg, loaded)


ingest_deliveries()
