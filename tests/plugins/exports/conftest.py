"""Fixtures of the exports tests (data in export_fixtures.py)."""

from __future__ import annotations

import os

import psycopg
import pytest
from export_fixtures import (
    AS_OF,
    BLOCKED_AS_OF,
    DB_NAME,
    DDL,
    OLD_AS_OF,
    OLD_PUB,
    PUB,
    STALE_PUB,
    Warehouse,
    build_rows,
    copy_rows,
    small_config_docs,
)


@pytest.fixture(scope="session")
def warehouse(fresh_database) -> Warehouse:
    """The t_exports database with the hand-built published results (built once per session)."""
    previous = os.environ.get("CREDIT_RISK_WAREHOUSE_DB")
    url = fresh_database(DB_NAME)
    # fresh_database points the whole session at t_exports; our tests set it per test instead
    # (_our_database), so the areas tested after us keep theirs
    if previous is None:
        os.environ.pop("CREDIT_RISK_WAREHOUSE_DB", None)
    else:
        os.environ["CREDIT_RISK_WAREHOUSE_DB"] = previous
    wh = build_rows()
    wh.url = url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DDL)
        copy_rows(
            conn,
            "published.publications",
            [
                {"publication_id": OLD_PUB, "as_of": OLD_AS_OF, "status": "published"},
                {"publication_id": STALE_PUB, "as_of": AS_OF, "status": "published"},
                {"publication_id": PUB, "as_of": AS_OF, "status": "published"},
                {"publication_id": 4, "as_of": BLOCKED_AS_OF, "status": "blocked"},
            ],
        )
        copy_rows(conn, "published.credit_evaluations", wh.evaluations)
        copy_rows(conn, "published.risk_classifications", wh.classifications)
        copy_rows(conn, "published.indicator_scores", wh.indicators)
        copy_rows(
            conn,
            "staging.stg_samr__registration",
            [
                {
                    "uscc": code,
                    "entity_name": name,
                    "legal_rep_name": "a" * 64,  # hashed in the real warehouse; never exported
                    "legal_rep_id_no": "b" * 64,
                    "contact_phone": "c" * 64,
                }
                for code, name in wh.names.items()
            ],
        )
    return wh


@pytest.fixture(autouse=True)
def _our_database(monkeypatch):
    """Point the project at t_exports for every test (other areas' fixtures move the env var)."""
    monkeypatch.setenv("CREDIT_RISK_WAREHOUSE_DB", f"t_{DB_NAME}")


@pytest.fixture
def small_config():
    from credit_risk.exports.entitlements import parse_config

    return parse_config(*small_config_docs())
