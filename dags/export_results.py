"""Export packages of the published results to downstream departments."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from credit_risk.assets import PUBLISHED
from credit_risk.dag_defaults import DEFAULT_ARGS, on_failure_alert

DOC = """
### Export results to downstream departments 结果推送

* On every publication (Asset `published.risk_classifications`): one package per consuming
  department and scenario (`plugins/credit_risk/config/consumers.yml`, `scenarios.yml`), holding
  only the rows and columns that consumer is entitled to, as CSV (UTF-8 with BOM or GB18030) and
  Parquet, with a `_manifest.json` (rows, sha256). Packages are complete or absent (temporary
  name, then rename; manifest last on object storage) and byte-identical when re-run.
* Daily at 06:00 Asia/Shanghai: consumers with a fixed delivery day get the latest published
  package re-sent that day; nothing is recomputed on a clock.

Target: `CREDIT_RISK_EXPORT_ROOT` (a path or object-storage URL). Ledger: `exports.ledger`.
"""


@dag(
    dag_id="export_results",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone="Asia/Shanghai"), assets=[PUBLISHED]
    ),
    start_date=dt.datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_failure_alert,
    tags=["exports"],
    doc_md=DOC,
    params={"as_of": None},
)
def export_results():
    @task
    def export_packages() -> dict:
        from airflow.sdk import get_current_context

        from credit_risk.pipeline_tasks import exports_task

        return exports_task(get_current_context())

    export_packages()


export_results()
