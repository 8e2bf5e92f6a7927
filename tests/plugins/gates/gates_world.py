"""A hand-built warehouse for the gate tests: ingest.*, raw.*, staging registry, audit.*.

Small and deterministic: 226 registered entities (100 enterprises, 101 individual
businesses, 25 cooperatives; 5 revoked before the as_of, one after it), one month of
deliveries per as_of for the four monthly feeds, penalties and the registration snapshot,
and audit marts whose classes and grades have fixed shares. Column lists follow the team
brief's warehouse contract; raw tables come from `credit_risk.feeds.raw_table_ddl`.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import psycopg

from credit_risk import db, feeds
from credit_risk.gates import reference

DB_NAME = "t_gates"
MAY = dt.date(2025, 5, 31)
JUNE = dt.date(2025, 6, 30)
DBT_OK = {"success": True, "tasks": 3, "failed_tasks": []}
N_ENTITIES = 226
USCC = "'91230100' || lpad(({g})::text, 10, '0')"

INGEST_DDL = [
    "create schema if not exists ingest",
    """create table if not exists ingest.deliveries (
        delivery_id bigserial primary key, department text, feed text, delivery_date date, delivery_path text,
        manifest_sha256 text, content_key text, status text, reason text, rows_manifest bigint,
        rows_loaded bigint, rows_quarantined bigint, orphan_rows bigint, started_at timestamptz,
        finished_at timestamptz)""",
    """create table if not exists ingest.quarantine (
        delivery_id bigint, department text, feed text, file_name text, line_no bigint, reason text,
        raw_text text, quarantined_at timestamptz)""",
    "create table if not exists ingest.reports (reported_at timestamptz, kind text, path text, detail text)",
]

LEVEL1 = ("bas", "ops", "reg", "fin", "soc", "eva")
LEVEL2 = tuple(c.lower() for c in reference.load().level2_codes["ENT"])  # bas1 … eva4, library order
AUDIT_DDL = {
    "indicator_scores": "as_of date, uscc char(18), entity_type text, region_code char(6), "
    + ", ".join(f"i{n:02d} numeric" for n in range(1, 45)),
    "risk_classifications": "as_of date, uscc char(18), entity_type text, region_code char(6), system_code text, "
    "system_version text, total_score numeric(5,2), "
    + ", ".join(f"score_{c} numeric" for c in LEVEL1)
    + ", risk_class text, fired_rules text[], top_losses text[]",
    "credit_evaluations": "as_of date, uscc char(18), region_code char(6), total_score numeric(5,2), "
    + ", ".join(f"score_{c} numeric" for c in LEVEL1)
    + ", credit_grade text, fired_rules text[], top_losses text[]",
    "level2_scores": "as_of date, uscc char(18), system_code text, "
    + ", ".join(f"{c} numeric" for c in LEVEL2),
}


def entity_type_sql(g: str = "g") -> str:
    return f"case when {g} <= 100 then 'enterprise' when {g} <= 201 then 'individual' else 'cooperative' end"


def connect() -> psycopg.Connection:
    return psycopg.connect(db.warehouse_url().url, autocommit=True)


def create_base(conn: psycopg.Connection) -> None:
    """Schemas, ledger, raw tables and the registry (staging view stand-in)."""
    conn.execute("drop schema if exists raw, ingest, audit, staging, published cascade")
    for stmt in INGEST_DDL:
        conn.execute(stmt)
    conn.execute("create schema raw")
    for f in feeds.FEEDS:
        conn.execute(feeds.raw_table_ddl(f))
    conn.execute("create schema audit")
    conn.execute("create schema staging")
    # 221..225 revoked before any as_of; 226 revoked on 2099-01-01, so active at every as_of
    conn.execute(
        f"""create table staging.stg_samr__registration as
        select {USCC.format(g="g")}::char(18) as uscc, {entity_type_sql()} as entity_type,
               '230102'::char(6) as region_code, date '2020-01-01' as established_on,
               case when g between 221 and 225 then 'revoked' when g = 226 then 'revoked' else 'active' end as status,
               case when g between 221 and 225 then date '2024-01-01' when g = 226 then date '2099-01-01' end
                   as status_changed_on,
               date '2025-01-01' as _delivery_date
        from generate_series(1, {N_ENTITIES}) g"""
    )


def active_filter(g: str = "g") -> str:
    return f"({g} not between 221 and 225)"


def _value_sql(f: feeds.Feed, c: feeds.Column, month: dt.date, did: int) -> str:
    if c.name == "record_id":
        return f"'{f.name}-{month:%Y%m}-' || g || '-{did}'"
    if c.name == "uscc":
        return USCC.format(g="(g - 1) % 220 + 1")
    if c.personal or c.type == feeds.ID_NO:
        return "md5(g::text) || md5('p' || g)"
    if c.name.endswith("_year"):
        return str(month.year - 1)
    return {
        feeds.STR: "'x'",
        feeds.DATE: f"date '{month.isoformat()}' + (g % 28)",
        feeds.MONTH: f"date '{month.isoformat()}'",
        feeds.INT: "g",
        feeds.MONEY: "100.00",
        feeds.RATIO: "0.9",
        feeds.FLAG: "false",
        feeds.ENUM: f"'{c.values[0]}'" if c.values else "'x'",
        feeds.USCC: USCC.format(g="g"),
        feeds.REGION: "'230102'",
        feeds.PREFECTURE: "'230100'",
        feeds.INDUSTRY: "'1310'",
    }[c.type]


def add_delivery(
    conn: psycopg.Connection,
    feed_name: str,
    delivery_date: dt.date,
    period: dt.date,
    rows: int,
    *,
    quarantined: int = 0,
    orphans: int = 0,
    manifest_extra: int = 0,
    overrides: dict[str, str] | None = None,
) -> int:
    """One accepted delivery: `rows` typed raw rows (values valid, dated in `period`'s month),
    `quarantined` quarantine rows, ledger counts (`manifest_extra` breaks the identity)."""
    f = feeds.FEEDS_BY_NAME[feed_name]
    row = conn.execute(
        """insert into ingest.deliveries (department, feed, delivery_date, delivery_path, manifest_sha256,
            content_key, status, reason, rows_manifest, rows_loaded, rows_quarantined, orphan_rows,
            started_at, finished_at)
        values (%s, %s, %s, %s, %s, %s, 'accepted', null, %s, %s, %s, %s, now(), now())
        returning delivery_id""",
        (
            f.department,
            f.name,
            delivery_date,
            f"{f.department}/{f.name}/{delivery_date:%Y%m%d}",
            hashlib.sha256(f"{f.name}{delivery_date}".encode()).hexdigest(),
            hashlib.sha256(f"{f.name}{delivery_date}{rows}".encode()).hexdigest(),
            rows + quarantined + manifest_extra,
            rows,
            quarantined,
            orphans,
        ),
    ).fetchone()
    assert row is not None
    did = int(row[0])
    cols = [c.name for c in f.all_columns]
    exprs = [(overrides or {}).get(c.name) or _value_sql(f, c, period, did) for c in f.all_columns]
    conn.execute(
        f"""insert into raw.{f.name} ({", ".join(f'"{c}"' for c in cols)}, _delivery_id, _delivery_date,
            _file_name, _line_no)
        select {", ".join(exprs)}, {did}, date '{delivery_date.isoformat()}', 'part-0001.csv', g + 1
        from generate_series(1, {rows}) g"""  # type: ignore[arg-type]
    )
    if quarantined:
        conn.execute(
            f"""insert into ingest.quarantine (delivery_id, department, feed, file_name, line_no, reason, raw_text,
                quarantined_at)
            select {did}, '{f.department}', '{f.name}', 'part-0001.csv', {rows} + g + 1, 'bad_date', 'x', now()
            from generate_series(1, {quarantined}) g"""  # type: ignore[arg-type]
        )
    return did


def remove_delivery(conn: psycopg.Connection, delivery_id: int) -> None:
    """Undo add_delivery (tests restore the world after breaking it)."""
    row = conn.execute("select feed from ingest.deliveries where delivery_id = %s", (delivery_id,)).fetchone()
    assert row is not None
    conn.execute(f"delete from raw.{row[0]} where _delivery_id = %s", (delivery_id,))  # type: ignore[arg-type]
    conn.execute("delete from ingest.quarantine where delivery_id = %s", (delivery_id,))
    conn.execute("delete from ingest.deliveries where delivery_id = %s", (delivery_id,))


def load_month(conn: psycopg.Connection, as_of: dt.date) -> list[int]:
    """The deliveries of one evaluation month: monthly feeds for the as_of month (delivered
    5 days after it), the registration snapshot (replacing the previous one), penalties."""
    period = as_of.replace(day=1)
    delivered = as_of + dt.timedelta(days=5)
    ids = [add_delivery(conn, name, delivered, period, 220) for name in feeds.MONTHLY_FEEDS]
    ids.append(add_delivery(conn, "penalties", delivered, period, 30, quarantined=0))
    conn.execute("delete from raw.registration")  # a snapshot keeps only its latest delivery
    ids.append(
        add_delivery(
            conn,
            "registration",
            delivered,
            period,
            N_ENTITIES,
            overrides={"entity_type": entity_type_sql(), "status": "'active'"},
        )
    )
    return ids


def build_audit(conn: psycopg.Connection, as_of: dt.date) -> None:
    """(Re)build audit.* for one as_of the way dbt does (new tables), with fixed shares:
    ENT (100 entities) A 70 / B 20 / C 7 / D 3, IND A 70 / B 20 / C 7 / D 4 of 101,
    COOP (21) all A; IBE grades by pattern."""
    ref = reference.load()
    a = f"date '{as_of.isoformat()}'"
    for table, cols in AUDIT_DDL.items():
        conn.execute(f"drop table if exists audit.{table}")  # type: ignore[arg-type]
        conn.execute(f"create table audit.{table} ({cols})")  # type: ignore[arg-type]
    active = f"from generate_series(1, {N_ENTITIES}) g where {active_filter()}"
    scores = ", ".join(f"50 + (g + {n}) % 50" for n in range(1, 45))
    conn.execute(
        f"insert into audit.indicator_scores select {a}, {USCC.format(g='g')}, {entity_type_sql()}, '230102', "
        f"{scores} {active}"  # type: ignore[arg-type]
    )
    # position of the entity inside its type, 0-based: decides its class
    pos = "(case when g <= 100 then g - 1 when g <= 201 then g - 101 else g - 202 end)"
    cls = f"case when {pos} < 70 then 'A' when {pos} < 90 then 'B' when {pos} < 97 then 'C' else 'D' end"
    system = "case when g <= 100 then 'ENT' when g <= 201 then 'IND' else 'COOP' end"
    version = "case when g <= 100 then '3.0' else '1' end"
    first = ", ".join("75.5" for _ in LEVEL1)
    conn.execute(
        f"""insert into audit.risk_classifications
        select {a}, {USCC.format(g="g")}, {entity_type_sql()}, '230102', {system}, {version},
               case ({cls}) when 'A' then 90 when 'B' then 80 when 'C' then 65 else 40 end, {first},
               {cls}, case ({cls}) when 'C' then array['R4'] else array[]::text[] end,
               array['I15', 'I16', 'I17']
        {active}"""  # type: ignore[arg-type]
    )
    grade = "case when g % 10 < 3 then 'AAA' when g % 10 < 6 then 'AA' when g % 10 < 8 then 'A' when g % 10 < 9 then 'B' else 'C' end"
    conn.execute(
        f"""insert into audit.credit_evaluations
        select {a}, {USCC.format(g="g")}, '230102', 77.25, {first}, {grade}, array[]::text[],
               array['I20', 'I01', 'I02']
        from generate_series(101, 201) g"""  # type: ignore[arg-type]
    )
    level2 = ", ".join(f"66.6 + {n} % 3" for n in range(len(LEVEL2)))  # wide: one row per entity and system
    for s in ref.systems:
        source = (
            "audit.credit_evaluations" if s.output_kind == "credit_grade" else "audit.risk_classifications"
        )
        cond = "" if s.output_kind == "credit_grade" else f"where system_code = '{s.code}'"
        conn.execute(
            f"insert into audit.level2_scores select as_of, uscc, '{s.code}', {level2} from {source} {cond}"  # type: ignore[arg-type]
        )


PUBLISHED_TABLES = ("indicator_scores", "risk_classifications", "credit_evaluations", "level2_scores")


def published_state(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every published table (row for row)."""
    out = {}
    for t in PUBLISHED_TABLES:
        row = conn.execute(
            f"select count(*), coalesce(md5(string_agg(md5(x::text), '' order by md5(x::text))), '') "  # type: ignore[arg-type]
            f"from published.{t} x"
        ).fetchone()
        assert row is not None
        out[t] = (int(row[0]), str(row[1]))
    return out


def save_audit(conn: psycopg.Connection) -> dict[str, str]:
    """Copy audit.* aside (temporary tables of this session), to undo a test's damage."""
    saved = {}
    for t in PUBLISHED_TABLES:
        conn.execute(f"drop table if exists saved_{t}")  # type: ignore[arg-type]
        conn.execute(f"create temp table saved_{t} as select * from audit.{t}")  # type: ignore[arg-type]
        saved[t] = f"saved_{t}"
    return saved


def restore_audit(conn: psycopg.Connection, saved: dict[str, str]) -> None:
    """Put the saved rows back into the same tables (delete + insert: the tables stay the
    same relations, as after an in-place fix, so an earlier clean gate report still matches)."""
    for t, copy in saved.items():
        conn.execute(f"delete from audit.{t}")  # type: ignore[arg-type]
        conn.execute(f"insert into audit.{t} select * from {copy}")  # type: ignore[arg-type]


def shift_classes(conn: psycopg.Connection, system: str, old: str, new: str, n: int) -> None:
    """Move `n` entities of `system` from class `old` to class `new` (with a matching score)."""
    conn.execute(
        """update audit.risk_classifications set risk_class = %s, total_score = 40
        where uscc in (select uscc from audit.risk_classifications where system_code = %s and risk_class = %s
                       order by uscc desc limit %s)""",
        (new, system, old, n),
    )
