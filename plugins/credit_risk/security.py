"""Least privilege and row-level access in the warehouse.

Group roles (NOLOGIN) created by `ensure_roles()`; login roles are granted membership:

| role | may |
|---|---|
| `credit_risk_loader` | write `raw`, `ingest` (nothing else) |
| `credit_risk_transformer` | read `raw`, `ingest`; build `reference`, `staging`, `intermediate`, `audit`; publish into `published`; write `supervision` |
| `credit_risk_analyst` | SELECT on `published` only, limited by row-level security to the region prefixes in `published.analyst_regions` when the role has any |
| `credit_risk_exporter` | SELECT on `published` (+ entity names in `staging.stg_samr__registration`), write `exports` |

Each schema is owned by the one role that builds in it (`SCHEMA_OWNERS`), and so are its tables:
dbt drops and re-creates its relations, the loader attaches partitions, and both need ownership.
`ensure_roles` hands existing objects to that owner (idempotent), so a warehouse built before the
roles existed converges on the first run.

Pipeline steps take the least role (`db.acting_as(role)` → every connection of the step starts
with `role` set; dbt's profile sets it for dbt): ingestion the loader, dbt/gates/publication/
supervision the transformer, exports the exporter. The setup itself (`ensure_roles`) runs as the
configured login, which must be able to create roles (the embedded server's superuser can);
`CREDIT_RISK_LEAST_PRIVILEGE=0` turns the role switch off for a server whose administrator keeps
roles elsewhere.
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

# schema -> the role that owns it and everything in it
SCHEMA_OWNERS: dict[str, str] = {schema: roles[0] for schema, roles in CREATE_GRANTS.items()}

# Published tables carrying region_code: row-level security applies to them.
RLS_TABLES = ("risk_classifications", "credit_evaluations", "indicator_scores")


def setup() -> bool:
    """`ensure_roles` on the warehouse as the configured login (never as a step role). Returns
    False, with a warning, when the login may not (an external server without CREATEROLE)."""
    from credit_risk import db

    try:
        with db.connect() as conn:
            conn.execute("set role none")  # the login itself, even when called inside a step
            ensure_roles(conn)
            conn.commit()
        return True
    except psycopg.Error as e:
        log.warning("roles, grants and row-level security not applied: %s", e)
        return False


def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the group roles, schemas and grants (idempotent; needs CREATEROLE)."""
    existing = {r[0] for r in conn.execute("select rolname from pg_roles")}
    for role in ROLES:
        if role not in existing:
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
    if not (superuser and superuser[0]):
        # a non-superuser login must be a member to SET ROLE to the group roles
        for role in ROLES:
            conn.execute(sql.SQL("grant {} to current_user").format(sql.Identifier(role)))
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
    transfer_ownership(conn)


# pg_class.relkind -> the ALTER statement that changes the owner
_ALTER = {
    "r": "table",
    "p": "table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "f": "foreign table",
}


def transfer_ownership(conn: psycopg.Connection) -> int:
    """Give each schema and its relations to the schema's owning role; returns how many objects
    changed owner. Sequences owned by a column follow their table."""
    changed = 0
    for schema, owner in SCHEMA_OWNERS.items():
        o = sql.Identifier(owner)
        row = conn.execute(
            "select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s", (schema,)
        ).fetchone()
        if row and row[0] != owner:
            conn.execute(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), o))
            changed += 1
        rels = conn.execute(
            """
            select c.relname, c.relkind
            from pg_class as c
            join pg_namespace as n on n.oid = c.relnamespace
            where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
              and pg_get_userbyid(c.relowner) <> %s
              and not (c.relkind = 'S' and exists (
                  select 1 from pg_depend as d
                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')))
            order by c.relkind, c.relname
            """,
            (schema, owner),
        ).fetchall()
        for name, kind in rels:
            conn.execute(
                sql.SQL("alter {} {} owner to {}").format(
                    sql.SQL(_ALTER[kind]), sql.Identifier(schema, name), o
                )
            )
        changed += len(rels)
    if changed:
        log.info("security: %d objects handed to their schema's owning role", changed)
    return changed


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
