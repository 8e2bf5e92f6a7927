"""Fixtures of the loader tests: a warehouse database of their own and a landing zone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from loader_fixtures import Landing


@pytest.fixture()
def landing(tmp_path: Path) -> Landing:
    root = tmp_path / "landing"
    root.mkdir()
    return Landing(root)


@pytest.fixture(scope="module")
def loader_db(fresh_database, request) -> str:
    """A fresh warehouse database for one test module (`t_loader_<module>`)."""
    name = "loader_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").removeprefix(
        "loader_"
    )
    return fresh_database(name)


@pytest.fixture()
def conn(loader_db) -> Iterator[psycopg.Connection]:
    with psycopg.connect(loader_db) as c:
        yield c
