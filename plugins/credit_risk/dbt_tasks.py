"""The dbt part of the classify DAG: models visible and retryable as Airflow tasks.

Mode `cosmos` (what `make up` uses): astronomer-cosmos renders one task per seed/model, grouped by layer
(reference → staging → intermediate → marts), tests after the models they check, parsed from
the dbt manifest (no dbt call while the DAG file is parsed) and run in process with dbt's
Python runner (InvocationMode.DBT_RUNNER), so a task pays no interpreter/adapter start-up.
Mode `single` (the default, and what `credit-risk run` uses): one `dbt build` task (fastest;
no per-model view). Chosen by
`CREDIT_RISK_DBT_MODE`; the README has the measured overhead of both.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from credit_risk import config

log = logging.getLogger(__name__)

VARS_TEMPLATE = {"as_of": "{{ ti.xcom_pull(task_ids='resolve_as_of') }}"}
LAYERS = (
    ("reference", "path:seeds"),
    ("staging", "path:models/staging"),
    ("intermediate", "path:models/intermediate"),
    ("marts", "path:models/marts"),
)


def mode() -> str:
    return os.environ.get("CREDIT_RISK_DBT_MODE", "single")


def _single_task():
    from airflow.sdk import task

    @task(task_id="dbt_build", retries=2)
    def dbt_build(as_of: str) -> dict:
        import datetime as dt

        from credit_risk import dbt_build as runner

        res = runner.build(dt.date.fromisoformat(as_of))
        if not res["success"]:
            raise RuntimeError(f"dbt build failed: {res['failures'][:5]}")
        return res

    return dbt_build


def _cosmos_groups(manifest) -> Any:
    from airflow.sdk import TaskGroup
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    project = config.dbt_project_dir()
    profile = ProfileConfig(
        profile_name="credit_risk",
        target_name="warehouse",
        profiles_yml_filepath=project / "profiles.yml",
    )
    execution = ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER)
    with TaskGroup(group_id="dbt", tooltip="dbt seeds, models and tests, by layer") as outer:
        previous = None
        for name, selector in LAYERS:
            group = DbtTaskGroup(
                group_id=name,
                project_config=ProjectConfig(
                    dbt_project_path=project,
                    manifest_path=manifest,
                    partial_parse=True,
                ),
                profile_config=profile,
                execution_config=execution,
                render_config=RenderConfig(
                    load_method=LoadMode.DBT_MANIFEST,
                    select=[selector],
                    # singular tests span layers: they run with the marts, after everything
                    exclude=[] if name == "marts" else ["path:tests"],
                    test_behavior=TestBehavior.AFTER_EACH,
                ),
                operator_args={"vars": VARS_TEMPLATE, "install_deps": False, "retries": 2},
            )
            if previous is not None:
                previous >> group
            previous = group
    return outer


def dbt_task_group(as_of_arg):
    """Tasks that build the audit marts for the as_of in XCom `resolve_as_of`; returns the
    task (group) to wire downstream."""
    if mode() == "cosmos":
        from credit_risk.dbt_build import manifest_path

        manifest = manifest_path()
        if manifest.exists():
            return _cosmos_groups(manifest)
        log.warning(
            "dbt manifest %s missing (run `credit-risk dbt-parse`): using one dbt build task", manifest
        )
    return _single_task()(as_of_arg)
