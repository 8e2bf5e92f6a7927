"""Fixtures of the gate tests: database `t_gates`, a hand-built world with May 2025 published
and June 2025 loaded and built (audit), and the clean June gate reports."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from gates_world import DB_NAME, DBT_OK, JUNE, MAY, build_audit, connect, create_base, load_month


@pytest.fixture(scope="session")
def gates_db(fresh_database) -> str:
    """The area's database, created once per session."""
    return fresh_database(DB_NAME.removeprefix("t_"))


@pytest.fixture(autouse=True)
def _point_at_gates_db(gates_db, monkeypatch) -> None:
    # other areas' fixtures may point the project elsewhere between our modules
    monkeypatch.setenv("CREDIT_RISK_WAREHOUSE_DB", DB_NAME)


@dataclass
class World:
    """The shared warehouse plus the clean June reports."""

    conn: psycopg.Connection
    run_ids: list[str] = field(default_factory=list)
    raw_june: object = None
    output_june: object = None

    def run_id(self, what: str) -> str:
        rid = f"t-gates-{what}-{uuid.uuid4().hex[:8]}"
        self.run_ids.append(rid)
        return rid


@pytest.fixture(scope="module")
def world(gates_db) -> Iterator[World]:
    """May published from a clean run; June deliveries loaded and audit built for June."""
    import os

    from credit_risk import config
    from credit_risk.gates import publish, run_output_gates, run_raw_gates

    saved = os.environ.get("CREDIT_RISK_WAREHOUSE_DB")
    os.environ["CREDIT_RISK_WAREHOUSE_DB"] = DB_NAME
    conn = connect()
    w = World(conn)
    create_base(conn)
    load_month(conn, MAY)
    build_audit(conn, MAY)
    rid = w.run_id("may")
    publish.publish(MAY, rid, [run_raw_gates(MAY, rid), run_output_gates(MAY, rid)], DBT_OK, "pytest")
    load_month(conn, JUNE)
    build_audit(conn, JUNE)
    rid = w.run_id("june-clean")
    w.raw_june = run_raw_gates(JUNE, rid)
    w.output_june = run_output_gates(JUNE, rid)
    yield w
    conn.close()
    docs = config.home() / "gx" / "data_docs"
    for as_of_dir in docs.glob("2025-0*"):
        for rid in w.run_ids:
            shutil.rmtree(as_of_dir / rid, ignore_errors=True)
        if as_of_dir.exists() and not any(as_of_dir.iterdir()):
            as_of_dir.rmdir()
    if saved is not None:
        os.environ["CREDIT_RISK_WAREHOUSE_DB"] = saved
