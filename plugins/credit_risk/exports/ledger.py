"""The export ledger `exports.ledger`: one row per package delivered (or failed), per re-send.

Wall-clock times live here and only here (`delivered_at`): packages themselves carry none, so
re-running an as_of gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from credit_risk import db
from credit_risk.exports.query import Publication

# Serialises export runs on one warehouse (a retried task and a re-send must not interleave).
LOCK_KEY = 0x45585054  # "EXPT"

DDL = (
    db.create_schema_sql("exports")
    + """;
create table if not exists exports.ledger (
    ledger_id       bigserial primary key,
    run_id          text not null,
    kind            text not null check (kind in ('export', 'resend')),
    consumer        text not null,
    scenario        text not null,
    as_of           date not null,
    publication_id  bigint,
    target          text not null,
    package_path    text not null,
    files           jsonb not null default '[]'::jsonb,
    rows            bigint not null default 0,
    bytes           bigint not null default 0,
    status          text not null check (status in ('delivered', 'failed')),
    detail          text,
    resend_on       date,
    delivered_at    timestamptz,
    recorded_at     timestamptz not null default now(),
    removed_at      timestamptz
);
create index if not exists ledger_as_of_idx on exports.ledger (as_of, consumer, scenario);
comment on table exports.ledger is
    'Export ledger: one row per package delivered or failed (kind export) and per re-send (kind resend).';
comment on column exports.ledger.run_id is 'One export_all or resend_scheduled call.';
comment on column exports.ledger.target is 'The export root (CREDIT_RISK_EXPORT_ROOT) the package went to.';
comment on column exports.ledger.files is 'The package files: name, table, format, rows, bytes, sha256.';
comment on column exports.ledger.rows is 'Rows of the package (each table counted once, not per format).';
comment on column exports.ledger.delivered_at is 'When the package became complete (null when failed).';
comment on column exports.ledger.removed_at is 'When retention removed the package from the export target.';
"""
)


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schema `exports` and the ledger if missing (idempotent, safe concurrently)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY + 1,))
        conn.execute(DDL)


def record(
    conn: psycopg.Connection,
    *,
    run_id: str,
    target: str,
    kind: str,
    consumer: str,
    scenario: str,
    pub: Publication,
    package_path: str,
    files: list[dict[str, Any]],
    rows: int,
    nbytes: int,
    status: str,
    detail: str | None = None,
    resend_on: dt.date | None = None,
) -> None:
    """Append one ledger row (delivered_at = now() when delivered)."""
    with conn.transaction():
        conn.execute(
            """
            insert into exports.ledger (run_id, target, kind, consumer, scenario, as_of, publication_id,
                                        package_path, files, rows, bytes, status, detail, resend_on, delivered_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    case when %s = 'delivered' then clock_timestamp() end)
            """,
            (
                run_id,
                target,
                kind,
                consumer,
                scenario,
                pub.as_of,
                pub.publication_id,
                package_path,
                Jsonb(files),
                rows,
                nbytes,
                status,
                detail,
                resend_on,
                status,
            ),
        )


def mark_removed(conn: psycopg.Connection, package_path: str) -> None:
    """Note that retention removed a package."""
    with conn.transaction():
        conn.execute(
            "update exports.ledger set removed_at = clock_timestamp() where package_path = %s and removed_at is null",
            (package_path,),
        )
