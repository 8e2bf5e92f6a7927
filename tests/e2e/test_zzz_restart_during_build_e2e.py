"""PostgreSQL restarted (crash-like, `pg_ctl -m immediate`) in the middle of the dbt build: the
build task fails, Airflow retries it, and what is published equals the uninterrupted run. The
restart happens at a known point: while dbt waits to swap in an intermediate model (see
`hold_model_then_restart`), not whenever a poller happens to catch a query.

Real parts: the generator, `credit-risk run` (Airflow `dag.test()`, dbt, GX, publication) and the
embedded server, which also holds Airflow's metadata database — the run survives losing every
connection at once. The uninterrupted run is the shared e2e run's first as_of: the same seed and
months give byte-identical deliveries. Runs after the other e2e tests (file order): the restart
drops every connection on the test server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import psycopg
import pytest

from credit_risk import bench, db, security
from credit_risk.gates import schema as published_schema

pytestmark = pytest.mark.e2e
DB = "t_restart_build"
FIRST_AS_OF = dt.date(2025, 5, 31)  # the shared e2e run's first as_of


def published_digest(dbname: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of all rows) per published table for the first as_of, publication ids aside."""
    out = {}
    with psycopg.connect(db.server_url().with_db(dbname).url) as c:
        for table, (cols, _pk, _regional) in published_schema.TABLES.items():
            names = ", ".join(n for n, _t, _c in cols)
            out[table] = c.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) "
                f"from (select {names} from published.{table} where as_of = %s) as t",
                (FIRST_AS_OF,),
            ).fetchone()
    return out


# An intermediate model built late in the build (it reads every int_indicators_* model).
MODEL = "int_indicator_scores"


def hold_model_then_restart(ready: threading.Event, stop: threading.Event, hit: dict) -> None:
    """Deterministic timing: hold a share lock on a placeholder relation named like MODEL. dbt builds
    the model into a temporary table, then must rename the existing relation away, and waits for our
    lock: the build is then certainly in the middle of the intermediate layer. Restart the server
    as soon as dbt waits (the restart also releases our lock).

    The waiters are looked up on a second, autocommit connection: inside the lock holder's
    transaction `pg_stat_activity` is a snapshot taken once and would never show dbt arriving."""
    url = db.server_url().with_db(DB).url
    holder = psycopg.connect(url)
    try:
        holder.execute(f'lock table intermediate."{MODEL}" in access share mode')
        ready.set()
        with psycopg.connect(url, autocommit=True) as watch:
            while not stop.is_set():
                row = watch.execute(
                    """
                    select a.query from pg_locks as l join pg_stat_activity as a on a.pid = l.pid
                    where not l.granted and l.relation = %s::regclass and a.datname = %s
                    limit 1
                    """,
                    (f'intermediate."{MODEL}"', DB),
                ).fetchone()
                if row:
                    hit["query"] = row[0][:300]
                    break
                time.sleep(0.2)
            else:
                holder.close()  # the run ended without waiting for us: release, report no restart
                return
    except psycopg.OperationalError:  # pragma: no cover - only if the server went away otherwise
        return
    db.restart_immediate()  # drops the holder's connection too, with its lock
    hit["restarted"] = time.monotonic()


def test_restart_in_the_middle_of_the_build_recovers_with_the_same_result(e2e, tmp_path, monkeypatch):
    with psycopg.connect(db.server_url().with_db("postgres").url, autocommit=True) as c:
        c.execute(f'drop database if exists "{DB}" with (force)')
        c.execute(f'create database "{DB}"')
    monkeypatch.setenv("CREDIT_RISK_WAREHOUSE_DB", DB)
    env = {**e2e.env, "CREDIT_RISK_WAREHOUSE_DB": DB, "CREDIT_RISK_EXPORT_ROOT": str(tmp_path / "exports")}
    cli = dataclasses.replace(e2e, env=env).cli  # the shared run's CLI helper, on this test's database
    landing = tmp_path / "landing"
    gen = ["generate", "--out", str(landing), "--scale", "tiny", "--seed", "7", "--through", "2025-05"]
    cli(*gen, check=True)
    as_of = FIRST_AS_OF.isoformat()
    cli("run", "--landing", str(landing), "--as-of", as_of, *bench.run_only("ingest"), check=True)

    # a placeholder where dbt will put MODEL, owned like the rest of its schema
    owner = security.SCHEMA_OWNERS["intermediate"]
    with psycopg.connect(db.server_url().with_db(DB).url, autocommit=True) as c:
        c.execute(f"create schema if not exists intermediate authorization {owner}")
        c.execute(f'create table intermediate."{MODEL}" (placeholder int)')
        c.execute(f'alter table intermediate."{MODEL}" owner to {owner}')

    ready, stop, hit = threading.Event(), threading.Event(), {}
    watcher = threading.Thread(target=hold_model_then_restart, args=(ready, stop, hit), daemon=True)
    watcher.start()
    assert ready.wait(30), "could not lock the placeholder"
    try:
        run = cli("run", "--landing", str(landing), "--as-of", as_of, *bench.run_only("build"))
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert hit.get("restarted"), f"dbt never waited for {MODEL}: the server was not restarted"
    assert f'"{MODEL}" rename to' in hit["query"], hit  # dbt swapping in the model it just built
    assert run.returncode == 0, run.output[-6000:]

    # the restart really failed a build attempt, and the retry recovered
    with psycopg.connect(db.airflow_url().url) as c:
        tries, state = c.execute(
            """
            select ti.try_number, ti.state from task_instance as ti
            join dag_run as dr on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id
            where ti.dag_id = 'classify_and_publish' and ti.task_id = 'dbt_build'
            order by dr.id desc limit 1
            """
        ).fetchone()
    assert state == "success"
    assert tries >= 2, f"dbt_build succeeded on try {tries}: the restart did not hit it ({hit})"

    assert published_digest(DB) == published_digest("t_e2e")
    assert all(rows > 0 for rows, _ in published_digest(DB).values())
