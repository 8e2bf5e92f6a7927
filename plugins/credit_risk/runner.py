"""`credit-risk run`: the pipeline's DAGs in order, through Airflow's own task execution.

Each DAG runs with `dag.test()` in this process (no scheduler, no UI): the same task code,
XCom, trigger rules, retries and Asset events as in production. A batch run never waits for
manifests (deliveries still arriving are reported and skipped).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from credit_risk import airflow_env, config, db, security

log = logging.getLogger(__name__)

STAGES = (
    ("ingest", "ingest_deliveries"),
    ("build", "classify_and_publish"),
    ("supervision", "supervise"),
    ("exports", "export_results"),
)


@dataclass
class StageResult:
    stage: str
    dag_id: str
    state: str
    seconds: float
    tasks: dict[str, str] = field(default_factory=dict)
    run_id: str = ""


# What PostgreSQL answers while it starts, recovers from a crash or restarts: worth waiting for.
SERVER_NOT_READY = (
    "the database system is not yet accepting connections",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "Connection refused",
)
METADATA_RECONNECT_SECONDS = 60.0


def _connect_waiting_for_server(dialect, _conn_rec, cargs, cparams):
    """SQLAlchemy `do_connect` hook: open a DB-API connection, waiting up to
    METADATA_RECONNECT_SECONDS while the server is not ready (any other error is raised at once)."""
    deadline = time.monotonic() + METADATA_RECONNECT_SECONDS
    waited = False
    while True:
        try:
            conn = dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as e:
            if not any(m in str(e) for m in SERVER_NOT_READY) or time.monotonic() > deadline:
                raise
            if not waited:
                log.warning(
                    "Airflow metadata database not ready (%s); waiting", str(e).strip().splitlines()[-1]
                )
                waited = True
            time.sleep(0.5)
            continue
        if waited:
            log.info("Airflow metadata database reachable again")
        return conn


def wait_for_metadata_server_on_connect() -> None:
    """`dag.test()` runs the scheduling loop and the task bookkeeping in this process. If the
    PostgreSQL holding Airflow's metadata restarts (a crash, a failover), the next connection would
    fail at once and end the whole run — losing the retry Airflow was about to record for the task
    that the restart failed. Every new SQLAlchemy connection of this process (pooled ones are
    pre-pinged and replaced) waits for a server that is starting or recovering instead."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "do_connect", _connect_waiting_for_server):
        event.listen(Engine, "do_connect", _connect_waiting_for_server)


def prepare_airflow() -> None:
    """Environment, warehouse, Airflow metadata schema (migrated once per Airflow version);
    metadata connections that outlast a server restart."""
    airflow_env.apply()
    db.start(quiet=True)
    wait_for_metadata_server_on_connect()
    stamp = airflow_env.airflow_home() / ".migrated"
    from importlib.metadata import version

    want = f"{version('apache-airflow-core')} {db.airflow_url().url}"
    if not stamp.exists() or stamp.read_text() != want:
        log.info("migrating the Airflow metadata database")
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
        stamp.write_text(want)


def load_dag(dag_id: str):
    """Parse a DAG file from dags/ the way Airflow does (DagBag) and return the DAG."""
    from airflow.dag_processing.dagbag import DagBag

    path = config.PROJECT_ROOT / "dags" / f"{dag_id}.py"
    bag = DagBag(dag_folder=str(path))
    if bag.import_errors:
        raise RuntimeError(f"DAG file {path} does not import: {bag.import_errors}")
    if dag_id not in bag.dags:
        raise LookupError(f"no DAG {dag_id} in {path}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, conf: dict, stage: str = "") -> StageResult:
    dag = load_dag(dag_id)
    t0 = time.monotonic()
    cron = dag_id == "ingest_deliveries"
    kwargs = {} if cron else {"logical_date": None}
    dr = dag.test(run_conf=conf, **kwargs)
    seconds = time.monotonic() - t0
    tasks: dict[str, str] = {}
    from airflow.utils.session import create_session

    with create_session() as session:
        for ti in dr.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.rendered_map_index or ti.map_index}]"
            tasks[key] = str(ti.state)
    return StageResult(stage or dag_id, dag_id, str(dr.state), seconds, tasks, dr.run_id)


def run_pipeline(landing: Path, as_of: dt.date, skip: set[str] | None = None) -> int:
    """Run ingest → classify/publish → supervision → exports for one as_of; print a summary.
    Returns the process exit code (non-zero when any stage failed)."""
    skip = skip or set()
    from credit_risk import pipeline

    if not pipeline.is_month_end(as_of):
        print(f"as_of must be the last day of a month: {as_of}", file=sys.stderr)
        return 2
    landing = landing.resolve()
    if "ingest" not in skip and not landing.is_dir():
        print(f"landing zone not found: {landing}", file=sys.stderr)
        return 2
    prepare_airflow()
    with _exclusive_run():
        return _run_stages(landing, as_of, skip)


RUN_LOCK_KEY = 0x43524B52554E  # "CRKRUN": one batch run at a time per Airflow metadata database


@contextlib.contextmanager
def _exclusive_run():
    """Batch runs exclude each other: `dag.test()` clears and re-creates task instances in the
    shared metadata database, so a second overlapping run waits here instead of interfering."""
    import psycopg

    with psycopg.connect(db.airflow_url().url, autocommit=True) as conn:
        got = conn.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,)).fetchone()[0]  # type: ignore[index]
        if not got:
            print(
                "another credit-risk run is in progress on this Airflow database: waiting for it", flush=True
            )
            conn.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        try:
            yield
        finally:
            try:
                conn.execute("select pg_advisory_unlock(%s)", (RUN_LOCK_KEY,))
            except psycopg.OperationalError as e:  # the server restarted: the lock went with the session
                log.warning("run lock already released (%s)", str(e).strip())


def _run_stages(landing: Path, as_of: dt.date, skip: set[str]) -> int:
    from credit_risk import dbt_build

    if "build" not in skip:
        dbt_build.ensure_manifest(force=True)
    conf = {"as_of": as_of.isoformat(), "landing": str(landing), "batch": True}
    security.setup()  # roles, grants, ownerships: each step can take its least role
    results: list[StageResult] = []
    failed = False
    for stage, dag_id in STAGES:
        if stage in skip:
            continue
        if failed and stage in ("supervision", "exports"):
            results.append(StageResult(stage, dag_id, "skipped (nothing new published)", 0.0))
            continue
        print(f"\n=== {stage}: {dag_id} (as_of {as_of}) ===", flush=True)
        r = run_dag(dag_id, conf, stage)
        results.append(r)
        # Ingestion problems (a rejected delivery) do not stop the build: the gates decide
        # whether what did load may be published. A failed build/publication stops downstream.
        if r.state != "success" and stage == "build":
            failed = True
    security.setup()  # again, for the tables this run created (grants, row-level security)
    print(render_summary(results, as_of))
    return 0 if all(r.state == "success" for r in results if not r.state.startswith("skipped")) else 1


def render_summary(results: list[StageResult], as_of: dt.date) -> str:
    lines = ["", f"credit-risk run for as_of {as_of}", "-" * 60]
    for r in results:
        lines.append(f"{r.stage:<12} {r.dag_id:<22} {r.state:<10} {r.seconds:7.1f}s")
        bad = {k: v for k, v in r.tasks.items() if v not in ("success", "skipped")}
        for k, v in sorted(bad.items()):
            lines.append(f"    task {k}: {v}")
    lines.append("-" * 60)
    try:
        lines.append(published_summary(as_of))
    except Exception as e:  # the summary must not hide the run's own result
        lines.append(f"(no published results to summarise: {e})")
    return "\n".join(lines)


def published_summary(as_of: dt.date) -> str:
    """Class shares per entity type and grade shares of the published as_of, from the ledger."""
    out = []
    with db.connect() as conn:
        pub = conn.execute(
            "select publication_id, status from published.publications where as_of = %s "
            "order by publication_id desc limit 1",
            (as_of,),
        ).fetchone()
        if not pub:
            return f"nothing published for {as_of}"
        out.append(f"latest publication for {as_of}: #{pub[0]} {pub[1]}")
        rows = conn.execute(
            """
            select entity_type, risk_class, count(*),
                   round(100.0 * count(*) / sum(count(*)) over (partition by entity_type), 2)
            from published.risk_classifications where as_of = %s
            group by 1, 2 order by 1, 2
            """,
            (as_of,),
        ).fetchall()
        out.append("risk classes (share within entity type):")
        cur = None
        for et, cls, n, share in rows:
            if et != cur:
                out.append(f"  {et}:")
                cur = et
            out.append(f"    {cls}: {n:>9} ({share}%)")
        tot = conn.execute(
            """
            select risk_class, count(*), round(100.0 * count(*) / sum(count(*)) over (), 2)
            from published.risk_classifications where as_of = %s group by 1 order by 1
            """,
            (as_of,),
        ).fetchall()
        out.append("  all types: " + ", ".join(f"{c} {s}%" for c, _, s in tot))
        grades = conn.execute(
            """
            select credit_grade, count(*), round(100.0 * count(*) / sum(count(*)) over (), 2)
            from published.credit_evaluations where as_of = %s group by 1
            order by array_position(array['AAA','AA','A','B','C'], credit_grade)
            """,
            (as_of,),
        ).fetchall()
        out.append("IBE credit grades: " + ", ".join(f"{g} {n} ({s}%)" for g, n, s in grades))
    return "\n".join(out)
