"""The runner's Airflow metadata connections wait for a PostgreSQL that is restarting instead of
ending the run (the end-to-end proof is tests/e2e/test_zzz_restart_during_build_e2e.py)."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import psycopg2
import pytest
import sqlalchemy

from credit_risk import runner


def _fake_dialect(answers: list):
    """A dialect whose DB-API connect() raises or returns the given answers in turn."""
    calls = []

    def connect(*_args, **_kwargs):
        calls.append(1)
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    dbapi = SimpleNamespace(connect=connect, OperationalError=psycopg2.OperationalError)
    return SimpleNamespace(loaded_dbapi=dbapi), calls


def test_waits_while_the_server_recovers_then_connects(monkeypatch):
    monkeypatch.setattr(runner.time, "sleep", lambda _s: None)
    recovering = psycopg2.OperationalError(
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is not yet '
        "accepting connections\nDETAIL:  Consistent recovery state has not been yet reached."
    )
    starting = psycopg2.OperationalError("FATAL:  the database system is starting up")
    dialect, calls = _fake_dialect([recovering, starting, "connection"])
    assert runner._connect_waiting_for_server(dialect, None, (), {}) == "connection"
    assert len(calls) == 3


def test_other_connection_errors_are_raised_at_once(monkeypatch):
    monkeypatch.setattr(runner.time, "sleep", lambda _s: pytest.fail("must not wait"))
    denied = psycopg2.OperationalError('FATAL:  password authentication failed for user "airflow"')
    dialect, calls = _fake_dialect([denied, "connection"])
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        runner._connect_waiting_for_server(dialect, None, (), {})
    assert len(calls) == 1


def test_a_server_that_never_comes_back_fails_after_the_deadline(monkeypatch):
    with socket.socket() as s:  # a port nothing listens on: "Connection refused"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(runner, "METADATA_RECONNECT_SECONDS", 1.0)
    runner.wait_for_metadata_server_on_connect()
    runner.wait_for_metadata_server_on_connect()  # idempotent: one listener
    try:
        assert sqlalchemy.event.contains(
            sqlalchemy.engine.Engine, "do_connect", runner._connect_waiting_for_server
        )
        engine = sqlalchemy.create_engine(f"postgresql+psycopg2://nobody@127.0.0.1:{port}/nothing")
        t0 = time.monotonic()
        with pytest.raises(sqlalchemy.exc.OperationalError, match="Connection refused"):
            engine.connect()
        assert time.monotonic() - t0 >= 1.0  # it waited for the server, through SQLAlchemy's own engine
        engine.dispose()
    finally:  # the listener is process-wide: leave the other tests' engines as they were
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "do_connect", runner._connect_waiting_for_server)
