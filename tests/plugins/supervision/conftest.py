"""Fixtures of the supervision tests: one database (`t_supervision`), rebuilt per world.

The project is pointed at that database only while our tests run (other areas' fixtures point it
at theirs), and the previous setting is restored afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from supervision_world import DB_NAME, World

ENV = "CREDIT_RISK_WAREHOUSE_DB"


@pytest.fixture(scope="session")
def supervision_db(fresh_database) -> str:
    """The area's database, created once per session."""
    saved = os.environ.get(ENV)
    url = fresh_database(DB_NAME.removeprefix("t_"))
    if saved is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = saved
    return url


@pytest.fixture(autouse=True)
def _point_at_supervision_db(supervision_db, monkeypatch) -> None:
    monkeypatch.setenv(ENV, DB_NAME)


@pytest.fixture
def world(supervision_db) -> Iterator[World]:
    """A fresh, empty hand-built warehouse for one test."""
    w = World()
    yield w
    w.close()


@pytest.fixture(scope="module")
def module_world(supervision_db) -> Iterator[World]:
    """A hand-built warehouse shared by the tests of one module (built once)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV, DB_NAME)
        w = World()
        yield w
        w.close()
