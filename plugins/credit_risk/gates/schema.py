"""Schema `published`: the published results with history over as_of, the publication
ledger, drift approvals and the class-change view. Written only by `gates.publish`.

The four result tables have the audit tables' columns (team brief, "Warehouse contract")
plus `publication_id`. They are LIST-partitioned by `as_of`, one partition per published
as_of (`published.<table>_<yyyymmdd>`): a consumer reading one as_of scans only its rows,
re-publishing touches one partition, and old as_of can be archived by detaching one.
Primary keys lead with as_of; `(as_of, region_code)` is indexed where the column exists.
A partition is created as a plain table, loaded, and then ATTACHed (indexes built once,
sorted), which takes only a SHARE UPDATE EXCLUSIVE lock on the parent (CREATE TABLE …
PARTITION OF takes ACCESS EXCLUSIVE and would block every reader of the published table).
"""

from __future__ import annotations

import datetime as dt

import psycopg

from credit_risk import db
from credit_risk.gates import reference

SCHEMA = "published"
# Bump when _ddl() changes: ensure_published_schema re-applies the (idempotent) DDL then.
SCHEMA_VERSION = "credit-risk published schema v2"  # v2: level2_scores wide (v1: long)
# pg_advisory_lock(classid, objid) namespaces of this module
LOCK_DDL = 0x43524700  # "CRG\0": schema changes
LOCK_PUBLISH = 0x43524701  # publication of one as_of (objid = as_of's ordinal day)

_LEVEL1 = ("bas", "ops", "reg", "fin", "soc", "eva")
# The 20 second-level codes of seed indicator_library, as the columns of level2_scores (a change
# of the library is a schema change: bump SCHEMA_VERSION). A gate unit test compares them.
LEVEL2 = tuple(
    "bas1 bas2 bas3 ops1 ops2 ops3 reg1 reg2 reg3 reg4 fin1 fin2 fin3 soc1 soc2 soc3 eva1 eva2 eva3 eva4".split()
)

# table -> (columns (name, type, comment), primary key, indexed (as_of, region_code)?)
Columns = list[tuple[str, str, str]]
_BASE: Columns = [
    ("as_of", "date not null", "Evaluation date: the last day of the evaluation month."),
    ("uscc", "char(18) not null", "Unified social credit code (统一社会信用代码, GB 32100-2015)."),
]
_EXPLANATION: Columns = [
    ("total_score", "numeric(5,2)", "Total score 0–100, rounded half up to 2 decimals; bands apply to it."),
    *[(f"score_{c}", "numeric", f"First-level score {c.upper()} (0–100), unrounded.") for c in _LEVEL1],
]
_RULES: Columns = [
    (
        "fired_rules",
        "text[]",
        "Direct rules whose condition holds, in code order (R0 alone when it applies).",
    ),
    ("top_losses", "text[]", "The three indicator codes with the largest weighted loss, largest first."),
]

TABLES: dict[str, tuple[Columns, tuple[str, ...], bool]] = {
    "indicator_scores": (
        [
            *_BASE,
            ("entity_type", "text not null", "enterprise / individual / cooperative (registration)."),
            ("region_code", "char(6)", "County code (GB/T 2260) of the entity."),
            *[
                (f"i{n:02d}", "numeric", f"Third-level indicator I{n:02d} score, 0–100.")
                for n in range(1, 45)
            ],
        ],
        ("as_of", "uscc"),
        True,
    ),
    "risk_classifications": (
        [
            *_BASE,
            ("entity_type", "text not null", "enterprise / individual / cooperative (registration)."),
            ("region_code", "char(6)", "County code (GB/T 2260) of the entity."),
            ("system_code", "text not null", "Indicator system: ENT, IND or COOP (by entity type)."),
            ("system_version", "text", "Version of the indicator system."),
            *_EXPLANATION,
            (
                "risk_class",
                "text",
                "Credit-risk class 信用风险分类: A low, B moderate, C fairly high, D high.",
            ),
            *_RULES,
        ],
        ("as_of", "uscc", "system_code"),
        True,
    ),
    "credit_evaluations": (
        [
            *_BASE,
            ("region_code", "char(6)", "County code (GB/T 2260) of the entity."),
            *_EXPLANATION,
            ("credit_grade", "text", "IBE credit grade 信用评价: AAA, AA, A, B or C."),
            *_RULES,
        ],
        ("as_of", "uscc"),
        True,
    ),
    "level2_scores": (
        [
            *_BASE,
            ("system_code", "text not null", "Indicator system (ENT, IND, COOP, IBE)."),
            *[
                (
                    c,
                    "numeric",
                    f"Second-level score {c.upper()} (0–100) in this system, rounded half up to 10 decimals.",
                )
                for c in LEVEL2
            ],
        ],
        ("as_of", "uscc", "system_code"),
        False,
    ),
}

TABLE_COMMENTS = {
    "indicator_scores": "Published third-level indicator scores (i01–i44) of every active entity, per as_of.",
    "risk_classifications": "Published credit-risk class (信用风险分类) of every active entity, per as_of, "
    "with its scores and explanation.",
    "credit_evaluations": "Published IBE credit grade (个体工商户信用评价) of every active individual business, per as_of.",
    "level2_scores": "Published second-level scores (二级指标得分), one row per entity and system with the 20 "
    "scores bas1 … eva4 (names: seed indicator_library), per as_of.",
}
PUBLICATION_ID = (
    "publication_id",
    "bigint not null",
    "The publication (published.publications) that wrote the row.",
)


def columns(table: str) -> list[str]:
    """Column names of a result table as in audit.* (without publication_id)."""
    return [c[0] for c in TABLES[table][0]]


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ddl() -> list[str]:
    stmts = [db.create_schema_sql(SCHEMA)]
    stmts.append(f"comment on schema {SCHEMA} is {_q(SCHEMA_VERSION)}")
    for table, (cols, pk, regional) in TABLES.items():
        body = ",\n    ".join(f"{n} {t}" for n, t, _ in [*cols, PUBLICATION_ID])
        stmts.append(
            f"create table if not exists {SCHEMA}.{table} (\n    {body},\n    primary key ({', '.join(pk)})\n)"
            " partition by list (as_of)"
        )
        if regional:
            stmts.append(
                f"create index if not exists {table}_as_of_region_idx on {SCHEMA}.{table} (as_of, region_code)"
            )
        stmts.append(f"comment on table {SCHEMA}.{table} is {_q(TABLE_COMMENTS[table])}")
        for n, _, c in [*cols, PUBLICATION_ID]:
            stmts.append(f"comment on column {SCHEMA}.{table}.{n} is {_q(c)}")
    stmts += [
        f"""create table if not exists {SCHEMA}.publications (
    publication_id bigint generated always as identity primary key,
    as_of date not null,
    run_id text not null,
    status text not null check (status in ('published', 'blocked')),
    triggered_by text not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    gate_results jsonb not null default '[]',
    failed_expectations text[] not null default '{{}}',
    row_counts jsonb not null default '{{}}',
    class_counts jsonb not null default '{{}}',
    durations jsonb not null default '{{}}',
    data_docs jsonb not null default '{{}}',
    delivery_id_max bigint,
    summary text
)""",
        f"create index if not exists publications_as_of_idx on {SCHEMA}.publications (as_of, publication_id)",
        f"comment on table {SCHEMA}.publications is "
        + _q(
            "Publication ledger: one row per attempt to publish an as_of, published or blocked by a gate, "
            "with every gate's results, row counts, class counts, durations and Data Docs paths."
        ),
        f"comment on column {SCHEMA}.publications.gate_results is "
        + _q(
            "Per gate: name, success, seconds, Data Docs, failing expectations, every expectation's observed value."
        ),
        f"comment on column {SCHEMA}.publications.class_counts is "
        + _q(
            "Entities per system and class/grade as published: {system: {class: n}}; the drift gate's baseline."
        ),
        f"comment on column {SCHEMA}.publications.delivery_id_max is "
        + _q(
            "Highest ingest.deliveries id the raw gate covered: the next raw gate checks deliveries after it."
        ),
        f"""create table if not exists {SCHEMA}.drift_approvals (
    approval_id bigint generated always as identity primary key,
    as_of date not null,
    approved_by text not null,
    approved_at timestamptz not null default now(),
    reason text not null check (length(btrim(reason)) > 0)
)""",
        f"create index if not exists drift_approvals_as_of_idx on {SCHEMA}.drift_approvals (as_of)",
        f"comment on table {SCHEMA}.drift_approvals is "
        + _q(
            "Approvals of a class-distribution drift beyond the gate's bound for one as_of (who, when, why)."
        ),
    ]
    order = reference.load().ordered_classes()
    arr = "array[" + ", ".join(_q(c) for c in order) + "]"
    stmts += [
        # LATERAL per pair of consecutive as_of (OFFSET 0 keeps the planner from flattening
        # it): inside it both as_of are parameters, so PostgreSQL prunes to the two
        # partitions at run time instead of scanning every published as_of.
        f"""create or replace view {SCHEMA}.risk_class_changes as
with published_as_of as (
    select as_of, lag(as_of) over (order by as_of) as previous_as_of
    from (select distinct as_of from {SCHEMA}.publications where status = 'published') as p
)
select
    p.as_of,
    x.uscc,
    x.system_code,
    p.previous_as_of,
    x.previous_class,
    x.risk_class,
    x.steps
from published_as_of as p
cross join lateral (
    select
        c.uscc,
        c.system_code,
        prev.risk_class as previous_class,
        c.risk_class,
        array_position({arr}, c.risk_class) - array_position({arr}, prev.risk_class) as steps
    from {SCHEMA}.risk_classifications as c
    join {SCHEMA}.risk_classifications as prev on prev.uscc = c.uscc and prev.system_code = c.system_code
    where c.as_of = p.as_of and prev.as_of = p.previous_as_of and c.risk_class is distinct from prev.risk_class
    offset 0
) as x""",
        f"comment on view {SCHEMA}.risk_class_changes is "
        + _q(
            "Entities whose risk class changed between consecutive published as_of (same system); "
            "steps > 0 = worse (W18: steps >= 2). Entities new since the previous as_of are not listed."
        ),
    ]
    return stmts


def ensure_published_schema(conn: psycopg.Connection) -> None:
    """Create schema `published` and its tables, ledger, approvals and view. Idempotent.

    Runs in its own transaction (a savepoint if one is open), serialised by an advisory
    lock so that concurrent first runs do not race on CREATE.
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s, 0)", (LOCK_DDL,))
        version = conn.execute(
            "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s", (SCHEMA,)
        ).fetchone()
        if version and version[0] == SCHEMA_VERSION:
            return  # fast path: nothing to do (no catalog writes, no locks on the tables)
        v1_level2 = _set_aside_long_level2(conn)
        for stmt in _ddl():
            conn.execute(stmt)  # type: ignore[arg-type]
        if v1_level2:
            _republish_level2_wide(conn)


def _set_aside_long_level2(conn: psycopg.Connection) -> bool:
    """Schema v1 published level2_scores long (one row per level-2 code). If that table is
    there, keep its rows pivoted to the wide form in a temporary table and drop it (with its
    partitions), so that _ddl() creates the wide one. True when it did."""
    long_form = conn.execute(
        "select 1 from information_schema.columns where table_schema = %s and table_name = 'level2_scores' "
        "and column_name = 'level2_code'",
        (SCHEMA,),
    ).fetchone()
    if not long_form:
        return False
    pivot = ", ".join(f"max(score) filter (where level2_code = '{c.upper()}') as {c}" for c in LEVEL2)
    conn.execute(
        "create temp table level2_scores_v1 on commit drop as "  # type: ignore[arg-type]
        f"select as_of, uscc, system_code, {pivot}, max(publication_id) as publication_id "
        f"from {SCHEMA}.level2_scores group by as_of, uscc, system_code"
    )
    conn.execute(f"drop table {SCHEMA}.level2_scores")  # type: ignore[arg-type]
    return True


def _republish_level2_wide(conn: psycopg.Connection) -> None:
    """Load the set-aside v1 rows into the wide table, one partition per as_of (as publish does)."""
    dates = conn.execute("select distinct as_of from level2_scores_v1 order by as_of").fetchall()
    cols = ", ".join([*columns("level2_scores"), PUBLICATION_ID[0]])
    for (as_of,) in dates:
        part = f"{SCHEMA}.{partition_name('level2_scores', as_of)}"
        conn.execute(f"create table {part} (like {SCHEMA}.level2_scores including defaults)")  # type: ignore[arg-type]
        conn.execute(
            f"insert into {part} ({cols}) select {cols} from level2_scores_v1 where as_of = %s",  # type: ignore[arg-type]
            (as_of,),
        )
        attach_partition(conn, "level2_scores", as_of)


def partition_name(table: str, as_of: dt.date) -> str:
    """Name of the partition holding one as_of of a result table."""
    return f"{table}_{as_of:%Y%m%d}"


def partition_exists(conn: psycopg.Connection, table: str, as_of: dt.date) -> bool:
    """Whether the as_of's partition of a result table is attached."""
    row = conn.execute(
        "select c.relispartition from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s",
        (SCHEMA, partition_name(table, as_of)),
    ).fetchone()
    return bool(row and row[0])


def attach_partition(conn: psycopg.Connection, table: str, as_of: dt.date) -> None:
    """Attach `published.<table>_<yyyymmdd>` (a plain table with the parent's columns) as
    the as_of's partition. PostgreSQL checks its rows against the partition bound and
    builds the parent's indexes on it; the parent gets only a SHARE UPDATE EXCLUSIVE lock."""
    conn.execute(
        f"alter table {SCHEMA}.{table} attach partition {SCHEMA}.{partition_name(table, as_of)} "  # type: ignore[arg-type]
        f"for values in ('{as_of.isoformat()}')"
    )
