"""DAG policy: every DAG imports cleanly and follows the project's rules."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_risk.dag_defaults import ALLOWED_TAGS, OWNER

EXPECTED = {"ingest_deliveries", "classify_and_publish", "supervise", "export_results"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    from credit_risk.config import PROJECT_ROOT

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors


def test_expected_dags_present(dagbag):
    assert EXPECTED <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_policy(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and len(dag.doc_md) > 200, "every DAG documents itself in doc_md"
    assert dag.catchup is False
    assert dag.tags and set(dag.tags) <= ALLOWED_TAGS, dag.tags
    assert dag.on_failure_callback is not None
    assert dag.max_active_runs == 1
    for t in dag.tasks:
        assert t.owner == OWNER, (t.task_id, t.owner)
        assert t.retries is not None
        assert isinstance(t.retry_delay, dt.timedelta)


def test_downstream_dags_run_on_the_published_asset(dagbag):
    from credit_risk.assets import PUBLISHED

    def uris(cond) -> set[str]:
        if hasattr(cond, "objects"):
            return set().union(*(uris(o) for o in cond.objects))
        return {cond.uri} if hasattr(cond, "uri") else set()

    for dag_id in ("supervise", "export_results"):
        dag = dagbag.dags[dag_id]
        assert uris(dag.timetable.asset_condition) == {PUBLISHED.uri}


def test_publish_task_announces_the_published_asset(dagbag):
    from credit_risk.assets import PUBLISHED

    publish = dagbag.dags["classify_and_publish"].get_task("publish")
    assert [o.uri for o in publish.outlets] == [PUBLISHED.uri]


def test_gates_never_retry(dagbag):
    dag = dagbag.dags["classify_and_publish"]
    for task_id in ("raw_gates", "output_gates", "publish"):
        assert dag.get_task(task_id).retries == 0
