"""Shared fixtures.

Tests run against a real PostgreSQL: the embedded server under `var/test`
(or `CREDIT_RISK_DATABASE_URL` when set). Each test area takes its own database
through `fresh_database(name)`, so areas never see each other's tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Tests never touch the demo's warehouse: they get their own run-time folder.
os.environ.setdefault("CREDIT_RISK_HOME", str(ROOT / "var" / "test"))
os.environ.setdefault("CREDIT_RISK_HMAC_KEY", "test-only-hmac-key-not-a-secret")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")

# Airflow reads its configuration when first imported: point it at the test home now.
from credit_risk import airflow_env  # noqa: E402

airflow_env.apply()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The test PostgreSQL server, started once per session; returns the server URL."""
    from credit_risk import db

    db.start(quiet=True)
    return db.server_url().url


@pytest.fixture(scope="session")
def fresh_database(pg_server) -> Iterator[Callable[[str], str]]:
    """Factory: `fresh_database("loader")` drops and creates database `t_loader`, points
    CREDIT_RISK_WAREHOUSE_DB at it for the rest of the session and returns its URL."""
    import psycopg

    from credit_risk import db

    def make(name: str) -> str:
        dbname = f"t_{name}"
        with psycopg.connect(db.server_url().with_db("postgres").url, autocommit=True) as c:
            c.execute(f'drop database if exists "{dbname}" with (force)')
            c.execute(f'create database "{dbname}"')
        os.environ["CREDIT_RISK_WAREHOUSE_DB"] = dbname
        return db.warehouse_url().url

    yield make
