"""Least privilege and row-level access in the warehouse.

Group roles (NOLOGIN) created by `ensure_roles()`; login roles are granted membership:

| role | may |
|---|---|
| `credit_risk_loader` | write `raw`, `ingest` (nothing else) |
| `credit_risk_transformer` | read `raw`, `ingest`; build `reference`, `staging`, `intermediate`, `audit`; publish into `published`; write `supervision` |
| `credit_risk_analyst` | SELECT on `published` only, limited by row-level security to the region prefixes in `published.analyst_regions` when the role has any |
| `credit_risk_exporter` | SELECT on `published` (+ entity names in `staging.stg_samr__registration`), write `exports` |

Pipeline steps take the least role with `db.connect(role=...)` → `SET ROLE`.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

LOADER = "credit_risk_loader"
TRANSFORMER = "credit_risk_transformer"
ANALYST = "credit_risk_analyst"
EXPORTER = "credit_risk_exporter"
ROLES = (LOADER, TRANSFORMER, ANALYST, EXPORTER)

SCHEMAS = (
    "raw",
    "ingest",
    "reference",
    "staging",
    "intermediate",
    "audit",
    "published",
    "supervision",
    "exports",
)

# schema -> {role: privileges on its tables}
TABLE_GRANTS: dict[str, dict[str, str]] = {
    "raw": {LOADER: "all", TRANSFORMER: "select"},
    "ingest": {LOADER: "all", TRANSFORMER: "select"},
    "reference": {TRANSFORMER: "all"},
    "staging": {TRANSFORMER: "all", EXPORTER: "select"},
    "intermediate": {TRANSFORMER: "all"},
    "audit": {TRANSFORMER: "all"},
    "published": {TRANSFORMER: "all", ANALYST: "select", EXPORTER: "select"},
    "supervision": {TRANSFORMER: "all"},
    "exports": {EXPORTER: "all", TRANSFORMER: "select"},
}
# schema -> roles that may create objects in it
CREATE_GRANTS: dict[str, tuple[str, ...]] = {
    "raw": (LOADER,),
    "ingest": (LOADER,),
    "reference": (TRANSFORMER,),
    "staging": (TRANSFORMER,),
    "intermediate": (TRANSFORMER,),
    "audit": (TRANSFORMER,),
    "published": (TRANSFORMER,),
    "supervision": (TRANSFORMER,),
    "exports": (EXPORTER,),
}

# Published tables carrying region_code: row-level security applies to them.
RLS_TABLES = ("risk_classifications", "credit_evaluations", "indicator_scores")


def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the group roles, schemas and grants (idempotent; needs CREATEROLE)."""
    existing = {r[0] for r in conn.execute("select rolname from pg_roles")}
    for role in ROLES:
        if role not in existing:
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    for schema in SCHEMAS:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        s = sql.Identifier(schema)
        for role in ROLES:
            r = sql.Identifier(role)
            if role in TABLE_GRANTS.get(schema, {}) or role in CREATE_GRANTS.get(schema, ()):
                conn.execute(sql.SQL("grant usage on schema {} to {}").format(s, r))
            else:
                conn.execute(sql.SQL("revoke all on schema {} from {}").format(s, r))
        for role in CREATE_GRANTS.get(schema, ()):
            conn.execute(sql.SQL("grant create on schema {} to {}").format(s, sql.Identifier(role)))
        for role, privs in TABLE_GRANTS.get(schema, {}).items():
            p = sql.SQL("all privileges" if privs == "all" else privs)
            r = sql.Identifier(role)
            conn.execute(sql.SQL("grant {} on all tables in schema {} to {}").format(p, s, r))
            if privs == "all":
                conn.execute(sql.SQL("grant usage, select on all sequences in schema {} to {}").format(s, r))
            # objects created later (by the setup user or a role that builds here) inherit the grants
            owners = [sql.SQL("current_user"), *(sql.Identifier(o) for o in CREATE_GRANTS.get(schema, ()))]
            for owner in owners:
                conn.execute(
                    sql.SQL(
                        "alter default privileges for role {} in schema {} grant {} on tables to {}"
                    ).format(owner, s, p, r)
                )
    conn.execute(sql.SQL("revoke create on schema public from public"))
    ensure_row_level_security(conn)


def ensure_row_level_security(conn: psycopg.Connection) -> None:
    """Row-level security on the published tables: an analyst login listed in
    `published.analyst_regions` sees only rows whose region_code starts with one of its
    prefixes (e.g. '2301' for Harbin); an analyst not listed sees every row."""
    conn.execute(
        """
        create table if not exists published.analyst_regions (
            role_name name not null,
            region_prefix text not null check (region_prefix ~ '^[0-9]{2,6}$'),
            primary key (role_name, region_prefix)
        )
        """
    )
    conn.execute(sql.SQL("grant select on published.analyst_regions to {}").format(sql.Identifier(ANALYST)))
    for table in RLS_TABLES:
        exists = conn.execute("select to_regclass(%s)", (f"published.{table}",)).fetchone()
        if not exists or exists[0] is None:
            continue
        t = sql.Identifier("published", table)
        conn.execute(sql.SQL("alter table {} enable row level security").format(t))
        conn.execute(sql.SQL("drop policy if exists analyst_region on {}").format(t))
        conn.execute(
            sql.SQL(
                """
                create policy analyst_region on {} for select to {} using (
                    not exists (select 1 from published.analyst_regions a where a.role_name = current_user)
                    or exists (
                        select 1 from published.analyst_regions a
                        where a.role_name = current_user and region_code like a.region_prefix || '%'
                    )
                )
                """
            ).format(t, sql.Identifier(ANALYST))
        )
        # the pipeline's own roles see everything
        conn.execute(sql.SQL("drop policy if exists pipeline_all on {}").format(t))
        conn.execute(
            sql.SQL("create policy pipeline_all on {} to {}, {} using (true) with check (true)").format(
                t, sql.Identifier(TRANSFORMER), sql.Identifier(EXPORTER)
            )
        )


def create_analyst(
    conn: psycopg.Connection, login: str, password: str | None, region_prefix: str | None
) -> None:
    """Create (or update) an analyst login, optionally limited to one region prefix."""
    ident = sql.Identifier(login)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("create role {} login").format(ident))
    if password:
        conn.execute(sql.SQL("alter role {} password {}").format(ident, sql.Literal(password)))
    conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(ANALYST), ident))
    conn.execute("delete from published.analyst_regions where role_name = %s", (login,))
    if region_prefix:
        conn.execute(
            "insert into published.analyst_regions (role_name, region_prefix) values (%s, %s)",
            (login, region_prefix),
        )
