"""Differentiated supervision on the newly published classes."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from credit_risk.assets import PUBLISHED
from credit_risk.dag_defaults import DEFAULT_ARGS, on_failure_alert

DOC = """
### Differentiated supervision 差异化监管

Runs when an as_of is published (Asset `published.risk_classifications`), never on a clock,
and only on published results (`shared/spec/supervision.md` §1–§6):

* double-random spot-check plans per member unit, quarter and prefecture with class-dependent
  ratios, hash-ordered draws from a recorded `plan_seed`, joint tasks (一业一查) and inspectors
  with 回避 — verifiable with `credit-risk plan verify PLAN_ID`;
* the 22 early-warning rules with automatic dispatch batches;
* sandbox pool (包容期) and white list, with membership history;
* annual-report urging lists (from 30 June) and the credit-repair queue and guidance list.

Results land in schema `supervision`. Re-running an as_of recomputes it and reuses plan seeds.
"""


@dag(
    dag_id="supervise",
    schedule=[PUBLISHED],
    start_date=dt.datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_failure_alert,
    tags=["supervision"],
    doc_md=DOC,
    params={"as_of": None},
)
def supervise():
    @task
    def run_supervision() -> dict:
        from airflow.sdk import get_current_context

        from credit_risk.pipeline_tasks import supervision_task

        return supervision_task(get_current_context())

    run_supervision()


supervise()
