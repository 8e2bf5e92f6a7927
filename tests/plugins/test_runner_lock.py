"""Two overlapping batch runs: the second waits for the first (dag.test() would otherwise clear
the first run's task instances in the shared Airflow metadata database)."""

from __future__ import annotations

import threading
import time

import psycopg


def test_second_run_waits_for_the_first(pg_server):
    from credit_risk import db, runner

    entered: list[float] = []

    def second():
        with runner._exclusive_run():
            entered.append(time.monotonic())

    with psycopg.connect(db.airflow_url().url, autocommit=True) as first:
        first.execute("select pg_advisory_lock(%s)", (runner.RUN_LOCK_KEY,))
        t = threading.Thread(target=second)
        t.start()
        time.sleep(1.5)
        assert entered == [], "the second run must not start while the first holds the lock"
        released = time.monotonic()
        first.execute("select pg_advisory_unlock(%s)", (runner.RUN_LOCK_KEY,))
        t.join(timeout=10)
    assert entered and entered[0] >= released
