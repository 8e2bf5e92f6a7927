"""Small SQL helpers shared by the supervision modules."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from credit_risk.supervision.settings import Settings


def use_client_binding(conn: psycopg.Connection) -> None:
    """Bind parameters client side: the configured SQL may be a utility statement
    (CREATE TABLE … AS) where server-side parameters are not allowed."""
    conn.cursor_factory = psycopg.ClientCursor  # type: ignore[assignment]


def temp_table(
    conn: psycopg.Connection, name: str, query: str, params: Mapping[str, Any] | None = None
) -> int:
    """(Re)create temporary table `name` from `query`; analyse it; return its row count."""
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(name)))
    conn.execute(
        sql.SQL("create temp table {} on commit drop as ").format(sql.Identifier(name)).as_string(conn)
        + query,
        params or {},
    )
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier(name)))
    row = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(name))).fetchone()
    return int(row[0]) if row else 0


def work_table(
    conn: psycopg.Connection,
    name: str,
    query: str,
    params: Mapping[str, Any] | None = None,
    parallel: bool = False,
) -> None:
    """(Re)create unlogged work table `supervision.<name>` from `query`, analysed.

    Used instead of a temporary table where the statement is heavy: PostgreSQL never scans
    temporary tables in parallel, but reads (uncommitted) unlogged tables of this transaction with
    parallel workers. Work tables are dropped before the run commits (`drop_work_table`), and runs
    are serialised by an advisory lock, so no other session ever sees them."""
    target = sql.Identifier("supervision", name)
    conn.execute(sql.SQL("drop table if exists {}").format(target))
    if parallel:
        # the digest is costed like a cheap operator: tell the planner workers pay off
        conn.execute("set local parallel_setup_cost = 0")
        conn.execute("set local parallel_tuple_cost = 0")
    conn.execute(sql.SQL("create unlogged table {} as ").format(target).as_string(conn) + query, params or {})
    if parallel:
        conn.execute("reset parallel_setup_cost")
        conn.execute("reset parallel_tuple_cost")
    conn.execute(sql.SQL("analyze {}").format(target))


def drop_work_table(conn: psycopg.Connection, name: str) -> None:
    """Drop a work table made by `work_table`."""
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("supervision", name)))


def copy_rows(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY rows into `schema.table` (no row-by-row INSERTs)."""
    schema, _, name = table.rpartition(".")
    target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    stmt = sql.SQL("copy {} ({}) from stdin").format(target, sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(stmt) as cp:
        for r in rows:
            cp.write_row(r)


def new_seed() -> str:
    """32 random lower-case hex characters (secrets.token_hex(16))."""
    return secrets.token_hex(16)


def prefecture_sql(settings: Settings, column: str) -> str:
    """SQL expression: the prefecture code of a region_code column (first 4 digits + '00')."""
    return f"(left({column}, {settings.prefecture_digits}) || '{settings.prefecture_suffix}')::char(6)"
