"""The embedded PostgreSQL starts, serves, stops cleanly and restarts on the same data."""

from __future__ import annotations

import psycopg


def test_start_stop_restart_keeps_data(tmp_path, monkeypatch):
    from credit_risk import db

    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CREDIT_RISK_DATABASE_URL", raising=False)
    monkeypatch.delenv("CREDIT_RISK_WAREHOUSE_DB", raising=False)
    try:
        url = db.start(quiet=True)
        assert db.embedded_running()
        with psycopg.connect(url.url, autocommit=True) as c:
            c.execute("create table kept (v text)")
            c.execute("insert into kept values ('still here')")
            dbs = {r[0] for r in c.execute("select datname from pg_database")}
        assert {"warehouse", "airflow"} <= dbs
        db.stop()
        assert not db.embedded_running()
        with __import__("pytest").raises(psycopg.OperationalError):
            psycopg.connect(url.url, connect_timeout=2)
        url2 = db.start(quiet=True)
        assert url2.url == url.url, "restarts on the same port and database"
        with psycopg.connect(url2.url) as c:
            assert c.execute("select v from kept").fetchone() == ("still here",)
    finally:
        db.stop()
    assert not db.embedded_running()
