"""Warehouse objects the loader owns: schemas `raw` and `ingest`, the typed raw tables, the ledger.

`raw.<feed>` has exactly the contract's columns (`feeds.raw_table_ddl`) and is list-partitioned by
`_delivery_id`: one partition `raw."<feed>__d<delivery_id>"` per loaded delivery plus a default
partition `raw."<feed>__default"` (rows anyone else writes land there). Readers query
`raw.<feed>` as usual. The partitions stay in `raw` so the roles of `security.py` (loader: create
in `raw`; transformer: read `raw`) cover them without another schema.

Everything is `create … if not exists`, so `ensure_schema` is idempotent and cheap to call before
every run. The raw tables come from `feeds.raw_table_ddl`, the single source of truth for columns.
"""

from __future__ import annotations

import psycopg

from credit_risk import db, feeds

# Where the per-delivery partitions of the raw tables live.
PARTITION_SCHEMA = "raw"

# Serialises concurrent `ensure_schema` calls (two load workers starting at once would otherwise
# race on `create table if not exists`).
SCHEMA_LOCK = 0x6372_6C64_0001

INGEST_DDL: tuple[str, ...] = (
    # the load ledger: one row per delivery attempt (contract columns first)
    """
    create table if not exists ingest.deliveries (
        delivery_id bigserial primary key,
        department text,
        feed text,
        delivery_date date,
        delivery_path text,
        manifest_sha256 text,
        content_key text,
        status text not null check (status in ('accepted', 'rejected', 'duplicate')),
        reason text,
        rows_manifest bigint,
        rows_loaded bigint,
        rows_quarantined bigint,
        orphan_rows bigint,
        started_at timestamptz,
        finished_at timestamptz,
        -- what discover() compares to decide whether a folder needs an attempt
        folder_state text,
        -- snapshot feeds: false when an accepted snapshot was older than the current one
        is_current boolean,
        encoding text,
        files integer
    )
    """,
    "create index if not exists deliveries_feed_date on ingest.deliveries (department, feed, delivery_date)",
    "create index if not exists deliveries_path on ingest.deliveries (delivery_path)",
    """
    create table if not exists ingest.delivery_files (
        delivery_id bigint not null references ingest.deliveries (delivery_id),
        file_name text not null,
        sha256 text,
        bytes bigint,
        rows_manifest bigint,
        rows_loaded bigint,
        rows_quarantined bigint,
        primary key (delivery_id, file_name)
    )
    """,
    """
    create table if not exists ingest.quarantine (
        delivery_id bigint,
        department text,
        feed text,
        file_name text,
        line_no bigint,
        reason text,
        raw_text text,
        quarantined_at timestamptz default now(),
        -- true when raw_text holds the HMAC of the whole record (personal data that could not
        -- be told apart field by field), then text_length is the clear text's length
        text_is_hashed boolean default false,
        text_length integer
    )
    """,
    "create index if not exists quarantine_delivery on ingest.quarantine (delivery_id)",
    """
    create table if not exists ingest.reports (
        reported_at timestamptz default now(),
        kind text,
        path text,
        detail text
    )
    """,
    "create index if not exists reports_kind_path on ingest.reports (kind, path)",
    # the current (latest accepted) delivery of each snapshot feed
    """
    create table if not exists ingest.snapshot_state (
        department text not null,
        feed text not null,
        delivery_id bigint not null,
        delivery_date date not null,
        primary key (department, feed)
    )
    """,
    # orphan rows (uscc not in the registration snapshot current at load time), per feed
    """
    create or replace view ingest.orphan_rates as
    select department,
           feed,
           count(*) as deliveries,
           sum(rows_loaded) as rows_loaded,
           sum(orphan_rows) as orphan_rows,
           case when sum(rows_loaded) > 0
                then round(sum(orphan_rows)::numeric / sum(rows_loaded), 6) end as orphan_rate,
           max(delivery_date) as last_delivery_date
    from ingest.deliveries
    where status = 'accepted' and orphan_rows is not null
    group by department, feed
    """,
)


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schemas `raw` and `ingest`, every raw table and the ingest tables. Idempotent.

    Commits (or, on an autocommit connection, runs statement by statement).
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(db.create_schema_sql("raw"))
        conn.execute(db.create_schema_sql("ingest"))
        for f in feeds.FEEDS:
            # list-partitioned by delivery: each delivery loads into its own new table (fast COPY,
            # constant meta columns as defaults) that is attached in the same transaction
            conn.execute(feeds.raw_table_ddl(f) + " partition by list (_delivery_id)")  # type: ignore[arg-type]
            partitioned = conn.execute(
                "select relkind = 'p' from pg_class where oid = %s::regclass", (f.raw_table,)
            ).fetchone()
            if partitioned and partitioned[0]:
                # rows written by anyone else than the loader land here instead of failing
                conn.execute(
                    f'create table if not exists {PARTITION_SCHEMA}."{f.name}__default" '  # type: ignore[arg-type]
                    f"partition of {f.raw_table} default"
                )
        for ddl in INGEST_DDL:
            conn.execute(ddl)  # type: ignore[arg-type]
    if not conn.autocommit:
        conn.commit()
