"""Build the indicator hierarchy and classes for one as_of, gate them, publish them."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from credit_risk.assets import MONTHLY_RAW_ASSETS, PUBLISHED
from credit_risk.dag_defaults import DEFAULT_ARGS, on_failure_alert
from credit_risk.dbt_tasks import dbt_task_group

DOC = """
### Classify and publish 信用风险分类 (write-audit-publish)

Runs when all four monthly feeds (`raw.monthly_returns`, `raw.social_insurance`,
`raw.loan_performance`, `raw.utility_bills`) have new data, or by hand / `credit-risk run` with
`conf = {"as_of": "YYYY-MM-DD"}` (a month end). Default as_of: the last day of the previous month
(Asia/Shanghai).

1. **resolve_as_of** — which month end this run classifies.
2. **dbt** — seeds (weights, bands, thresholds: `dbt_project/seeds`), staging (latest version of
   every record), the 44 third-level indicators, 20 second-level and 6 first-level scores per
   system (ENT v3.0, IND v1, COOP v1, IBE v1), rules R0–R6, classes A–D, IBE grades and
   explanations, built into schema **audit** (write). dbt tests run after their models.
3. **raw_gates** / **output_gates** — Great Expectations suites (`expectations/`) run inside
   PostgreSQL (audit): accounting identity, quarantine, orphan and freshness thresholds; every
   active entity classified exactly once; scores, classes and grades in range; explanations
   complete; class-distribution drift against the previous published as_of.
4. **publish** — only if every gate (and every dbt test) passed: one transaction replaces that
   as_of in schema **published**, records the publication in `published.publications` and updates
   the Asset `published.risk_classifications`, which starts supervision and exports. A failed
   gate blocks publication, leaves the published state untouched, alerts, and fails this run.
"""


@dag(
    dag_id="classify_and_publish",
    schedule=MONTHLY_RAW_ASSETS[0] & MONTHLY_RAW_ASSETS[1] & MONTHLY_RAW_ASSETS[2] & MONTHLY_RAW_ASSETS[3],
    start_date=dt.datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_failure_alert,
    tags=["dbt", "gates", "publish"],
    doc_md=DOC,
    params={"as_of": None},
)
def classify_and_publish():
    @task
    def resolve_as_of() -> str:
        from airflow.sdk import get_current_context

        from credit_risk import pipeline

        as_of = pipeline.resolve_as_of(get_current_context())
        return as_of.isoformat()

    @task(retries=0, trigger_rule="all_done")
    def raw_gates(as_of: str) -> dict:
        from airflow.sdk import get_current_context

        from credit_risk.pipeline_tasks import gate_task

        return gate_task("raw", as_of, get_current_context())

    @task(retries=0, trigger_rule="all_done")
    def output_gates(as_of: str) -> dict:
        from airflow.sdk import get_current_context

        from credit_risk.pipeline_tasks import gate_task

        return gate_task("output", as_of, get_current_context())

    @task(retries=0, trigger_rule="all_done", outlets=[PUBLISHED])
    def publish(as_of: str, raw: dict | None, output: dict | None) -> dict:
        from airflow.sdk import get_current_context

        from credit_risk.pipeline_tasks import publish_task

        return publish_task(as_of, [raw, output], get_current_context())

    as_of = resolve_as_of()
    raw = raw_gates(as_of)  # raw data checks need no build: run them first
    build = dbt_task_group(as_of)
    raw >> build
    out = output_gates(as_of)
    build >> out
    publish(as_of, raw, out)


classify_and_publish()
