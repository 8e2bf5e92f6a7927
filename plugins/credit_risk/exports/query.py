"""The SQL of one file of a package: a COPY of exactly the rows and columns a consumer may see.

Every identifier goes through psycopg.sql.Identifier and every value through sql.Literal
(COPY takes no bind parameters), so nothing from the configuration is pasted into SQL as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
from psycopg import sql

from credit_risk.exports import entitlements as ent
from credit_risk.exports.entitlements import Consumer, Scenario

# Per-run temporary table: the publication's credit evaluations with the entity names, stored in
# uscc order with a unique index. Every package reads it in index order, so PostgreSQL neither
# re-joins the registration view (which recomputes the latest snapshot on every read) nor sorts
# the evaluations again for each of the ~60 packages.
BASE_TABLE = "export_credit_evaluations"

# Unconstrained numeric scores are exported to 10 decimals, the precision at which the spec
# rounds the total first (spec/indicators.md "Exact readings"), so CSV and Parquet hold the same
# value and Parquet can use a fixed decimal type.
SCORE_DECIMALS = 10

ARROW_TYPES: dict[str, pa.DataType] = {
    ent.DATE: pa.date32(),
    ent.TEXT: pa.string(),
    ent.SCORE2: pa.decimal128(5, 2),
    ent.SCORE: pa.decimal128(3 + SCORE_DECIMALS, SCORE_DECIMALS),
    ent.TEXT_LIST: pa.string(),  # ';'-joined in the CSV; list<string> in Parquet
    ent.BIGINT: pa.int64(),
    ent.ENTITY_NAME: pa.string(),
    ent.TREATMENT_ZH: pa.string(),
    ent.TREATMENT_EN: pa.string(),
}
LIST_SEPARATOR = ";"
# Nearly unique per row: the code, the name and the exact first-level scores.
HIGH_CARDINALITY = frozenset({"uscc", "entity_name", "score_bas", "score_ops", "score_reg", "score_fin", "score_soc",
                              "score_eva"})  # fmt: skip
TEXT_KINDS = frozenset({ent.TEXT, ent.TEXT_LIST, ent.ENTITY_NAME, ent.TREATMENT_ZH, ent.TREATMENT_EN})


@dataclass(frozen=True)
class Publication:
    """The published as_of being exported."""

    as_of: dt.date
    publication_id: int


@dataclass(frozen=True)
class FileQuery:
    """What one table's files of a package hold and the COPY that produces it."""

    table: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    statement: sql.Composed

    @property
    def csv_schema(self) -> pa.Schema:
        """Every column as text: the package CSV keeps PostgreSQL's own rendering of each value
        (plain decimals such as 0.0000000000, ISO dates), which Arrow's decimal printing would not."""
        return pa.schema([(c, pa.string()) for c in self.columns])

    @property
    def parquet_schema(self) -> pa.Schema:
        return pa.schema(
            [
                (c, pa.list_(pa.string()) if k == ent.TEXT_LIST else ARROW_TYPES[k])
                for c, k in zip(self.columns, self.kinds, strict=True)
            ]
        )

    @property
    def dictionary_columns(self) -> tuple[str, ...]:
        """Columns whose values repeat (grades, codes, treatments, band scores): Parquet
        dictionary-encodes these and only these."""
        return tuple(c for c in self.columns if c not in HIGH_CARDINALITY)

    @property
    def text_columns(self) -> tuple[str, ...]:
        return tuple(c for c, k in zip(self.columns, self.kinds, strict=True) if k in TEXT_KINDS)


def _text_array(values: tuple[str, ...]) -> sql.Composable:
    return sql.SQL("{}::text[]").format(sql.Literal(list(values)))


def _expr(column: str, kind: str, scenario: Scenario, alias: str) -> sql.Composable:
    col = sql.Identifier(alias, column)
    if kind == ent.DATE:
        return col
    if kind == ent.TEXT:
        return sql.SQL("{}::text").format(col)  # char(n) -> text
    if kind == ent.SCORE2:
        return sql.SQL("{}::numeric(5,2)").format(col)
    if kind == ent.SCORE:
        return sql.SQL("round({}::numeric, {})").format(col, sql.Literal(SCORE_DECIMALS))
    if kind == ent.TEXT_LIST:
        return sql.SQL("array_to_string({}, {})").format(col, sql.Literal(LIST_SEPARATOR))
    if kind == ent.BIGINT:
        return sql.SQL("{}::bigint").format(col)
    if kind == ent.ENTITY_NAME:
        return sql.SQL("{}::text").format(sql.Identifier("e", "entity_name"))
    if kind in (ent.TREATMENT_ZH, ent.TREATMENT_EN):
        attr = "zh" if kind == ent.TREATMENT_ZH else "en"
        whens = sql.SQL(" ").join(
            sql.SQL("when {} then {}").format(sql.Literal(g), sql.Literal(getattr(t, attr)))
            for g, t in scenario.treatments.items()
        )
        return sql.SQL("case {} {} end").format(sql.Identifier("e", "credit_grade"), whens)
    raise ValueError(f"unknown column kind {kind!r}")  # pragma: no cover - guarded by entitlements


def population(consumer: Consumer, scenario: Scenario) -> sql.Composed:
    """Conditions on the base table (alias e) selecting a package's businesses: the grades the
    scenario serves that the consumer takes, in the consumer's regions."""
    conds = [sql.SQL("e.credit_grade = any({})").format(_text_array(consumer.grades_for(scenario)))]
    if consumer.filters.region_prefixes is not None:
        # prefixes are validated as digits, so they are safe LIKE patterns
        patterns = tuple(p + "%" for p in consumer.filters.region_prefixes)
        conds.append(sql.SQL("e.region_code::text like any({})").format(_text_array(patterns)))
    return sql.SQL(" and ").join(conds)


def file_query(
    consumer: Consumer, scenario: Scenario, table: str, pub: Publication, base_table: str = BASE_TABLE
) -> FileQuery:
    """The COPY of one table of a (consumer, scenario) package, ordered by uscc.

    credit_evaluations rows come from the base table (alias e); the other published tables are
    joined to it (alias t), so every table of a package covers the same businesses.
    """
    columns = consumer.tables[table]
    allowed = ent.allowed_columns(table)
    kinds = tuple(allowed[c] for c in columns)
    alias = "e" if table == "credit_evaluations" else "t"
    select = sql.SQL(", ").join(
        sql.SQL("{} as {}").format(_expr(c, k, scenario, alias), sql.Identifier(c))
        for c, k in zip(columns, kinds, strict=True)
    )
    base = sql.SQL("pg_temp.{} as e").format(sql.Identifier(base_table))
    conds = [population(consumer, scenario)]
    if table == "credit_evaluations":
        source = base
        # the base table is stored and indexed in this order: an index scan, no sort
        order = [sql.SQL('e.uscc collate "C"')]
    else:
        source = sql.SQL("{} as t join {} on e.uscc = t.uscc").format(
            sql.Identifier("published", table), base
        )
        conds += [
            sql.SQL("t.as_of = {}").format(sql.Literal(pub.as_of)),
            sql.SQL("t.publication_id = {}").format(sql.Literal(pub.publication_id)),
        ]
        cols = ent.PUBLISHED_COLUMNS[table]
        if consumer.filters.entity_types is not None and "entity_type" in cols:
            conds.append(
                sql.SQL("t.entity_type = any({})").format(_text_array(consumer.filters.entity_types))
            )
        if consumer.filters.risk_classes is not None and "risk_class" in cols:
            conds.append(sql.SQL("t.risk_class = any({})").format(_text_array(consumer.filters.risk_classes)))
        # byte-identical re-runs need a total order independent of the server's collation
        order = [sql.SQL('t.uscc collate "C"')]
        if "system_code" in cols:
            order.append(sql.SQL('t.system_code collate "C"'))
    query = sql.SQL("select {} from {} where {} order by {}").format(
        select, source, sql.SQL(" and ").join(conds), sql.SQL(", ").join(order)
    )
    # FORCE_QUOTE: every non-null value is quoted, so NULL (unquoted empty) and '' stay apart
    statement = sql.SQL("copy ({}) to stdout (format csv, force_quote *, encoding 'UTF8')").format(query)
    return FileQuery(table, columns, kinds, statement)


def base_table_sql(pub: Publication, base_table: str = BASE_TABLE) -> list[sql.Composed]:
    """Statements creating the per-run base table (see BASE_TABLE) inside the run's transaction.

    The unique index also guards the joins: a business evaluated twice in one publication, or
    registered twice, stops the export instead of duplicating rows.
    """
    name = sql.Identifier(base_table)
    return [
        sql.SQL("drop table if exists pg_temp.{}").format(name),
        sql.SQL(
            "create temp table {} on commit drop as "
            "select t.*, r.entity_name::text as entity_name "
            "from published.credit_evaluations as t "
            "left join staging.stg_samr__registration as r on r.uscc = t.uscc "
            "where t.as_of = {} and t.publication_id = {} "
            'order by t.uscc collate "C"'
        ).format(name, sql.Literal(pub.as_of), sql.Literal(pub.publication_id)),
        sql.SQL('create unique index on pg_temp.{} (uscc collate "C")').format(name),
        sql.SQL("analyze pg_temp.{}").format(name),
    ]
