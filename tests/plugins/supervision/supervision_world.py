"""Hand-built warehouses for the supervision tests.

Creates the tables supervision reads — `staging.stg_<department>__<feed>` (the contract's columns
from credit_risk.feeds, typed as in raw, minus `deleted`, plus `_delivery_date`) and the
`published.*` tables — as plain tables, and fills them with a few rows per case.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

import psycopg

from credit_risk import db
from credit_risk.feeds import FEEDS

DB_NAME = "t_supervision"
SCORE_COLUMNS = [f"i{n:02d}" for n in range(1, 45)]


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def create_tables(conn: psycopg.Connection) -> None:
    conn.execute("drop schema if exists supervision cascade")
    conn.execute("drop schema if exists staging cascade")
    conn.execute("drop schema if exists published cascade")
    conn.execute("create schema staging")
    conn.execute("create schema published")
    for f in FEEDS:
        cols = [f'"{c.name}" {c.pg_type}' for c in f.all_columns if c.name != "deleted"]
        cols.append("_delivery_date date")
        conn.execute(f"create table staging.stg_{f.department}__{f.name} ({', '.join(cols)})")
    conn.execute(
        """
        create table published.publications (
            publication_id bigserial primary key, as_of date not null, status text not null,
            published_at timestamptz default now())
        """
    )
    conn.execute(
        """
        create table published.risk_classifications (
            as_of date, uscc char(18), entity_type text, region_code char(6), system_code text,
            system_version text, total_score numeric(5,2), score_bas numeric, score_ops numeric,
            score_reg numeric, score_fin numeric, score_soc numeric, score_eva numeric, risk_class text,
            fired_rules text[], top_losses text[], publication_id bigint)
        """
    )
    conn.execute(
        "create table published.indicator_scores (as_of date, uscc char(18), entity_type text, region_code char(6), "
        + ", ".join(f"{c} numeric" for c in SCORE_COLUMNS)
        + ", publication_id bigint)"
    )
    conn.execute(
        """
        create table published.credit_evaluations (
            as_of date, uscc char(18), region_code char(6), total_score numeric(5,2), score_bas numeric,
            score_ops numeric, score_reg numeric, score_fin numeric, score_soc numeric, score_eva numeric,
            credit_grade text, fired_rules text[], top_losses text[], publication_id bigint)
        """
    )


class World:
    """A small warehouse: registration, records, published classes, inspection items, inspectors."""

    def __init__(self) -> None:
        self.conn = psycopg.connect(db.server_url().with_db(DB_NAME).url, autocommit=True)
        create_tables(self.conn)
        self._n = itertools.count(1)
        self._rec = itertools.count(1)
        self.registered: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ entities
    def entity(
        self,
        *,
        entity_type: str = "enterprise",
        industry: str = "5191",
        region: str = "230102",
        established: str = "2015-01-01",
        capital: float | None = 1_000_000,
        address: str | None = None,
        legal_rep: str | None = None,
        phone: str | None = None,
        four_new: bool = False,
        status: str = "active",
    ) -> str:
        n = next(self._n)
        uscc = f"91230100{n:09d}X"
        row = {
            "uscc": uscc,
            "entity_name": f"entity {n}",
            "entity_type": entity_type,
            "industry_code": industry,
            "region_code": region,
            "registered_capital": capital,
            "established_on": d(established),
            "status": status,
            "status_changed_on": None,
            "address": address if address is not None else f"address {n}",
            "legal_rep_name": f"name-hash-{n}",
            "legal_rep_id_no": legal_rep if legal_rep is not None else f"id-hash-{n}",
            "contact_phone": phone if phone is not None else f"phone-hash-{n}",
            "is_four_new": four_new,
            "farmer_member_ratio": None,
            "_delivery_date": d("2025-07-05"),
        }
        self.insert("stg_samr__registration", [row])
        self.registered[uscc] = row
        return uscc

    def entities(self, count: int, **kw: Any) -> list[str]:
        return [self.entity(**kw) for _ in range(count)]

    # ------------------------------------------------------------------ records
    def insert(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        cols = list(rows[0])
        sql = f"insert into staging.{table} ({', '.join(cols)}) values ({', '.join(['%s'] * len(cols))})"
        with self.conn.cursor() as cur:
            cur.executemany(sql, [[r[c] for c in cols] for r in rows])

    def record(self, feed: str, **values: Any) -> str:
        """One event record (record_id generated) in staging table `feed` (e.g. 'samr__penalties')."""
        rid = values.pop("record_id", None) or f"R{next(self._rec):06d}"
        values = {
            k: (d(v) if isinstance(v, str) and _is_date(v) and k != "record_id" else v)
            for k, v in values.items()
        }
        self.insert(f"stg_{feed}", [{"record_id": rid, **values, "_delivery_date": d("2025-07-05")}])
        return rid

    def monthly(self, feed: str, uscc: str, period: str, **values: Any) -> str:
        return self.record(feed, uscc=uscc, period=d(period + "-01"), **values)

    def item(
        self,
        item_id: str,
        unit: str,
        scope: str = "*",
        types: str = "enterprise;individual;cooperative",
        key: bool = False,
    ) -> None:
        self.insert(
            "stg_samr__inspection_items",
            [
                {
                    "item_id": item_id,
                    "member_unit": unit,
                    "item_name": f"item {item_id}",
                    "industry_scope": scope,
                    "entity_types": types,
                    "is_key_item": key,
                    "_delivery_date": d("2025-07-05"),
                }
            ],
        )

    def inspector(
        self, inspector_id: str, unit: str, prefecture: str = "230100", active: bool = True
    ) -> None:
        self.insert(
            "stg_samr__inspectors",
            [
                {
                    "inspector_id": inspector_id,
                    "member_unit": unit,
                    "region_code": prefecture,
                    "is_active": active,
                    "_delivery_date": d("2025-07-05"),
                }
            ],
        )

    # ------------------------------------------------------------------ published results
    def publish(
        self,
        as_of: str,
        classes: dict[str, str],
        i10: dict[str, int] | None = None,
        status: str = "published",
    ) -> int:
        """Publish classes for the given entities at as_of (replacing that as_of)."""
        day = d(as_of)
        i10 = i10 or {}
        row = self.conn.execute(
            "insert into published.publications (as_of, status) values (%s, %s) returning publication_id",
            (day, status),
        ).fetchone()
        assert row is not None
        pub = row[0]
        if status != "published":
            return pub
        self.conn.execute("delete from published.risk_classifications where as_of = %s", (day,))
        self.conn.execute("delete from published.indicator_scores where as_of = %s", (day,))
        with self.conn.cursor() as cur:
            cur.executemany(
                "insert into published.risk_classifications (as_of, uscc, entity_type, region_code, system_code, "
                "system_version, total_score, risk_class, fired_rules, top_losses, publication_id) "
                "values (%s, %s, %s, %s, %s, 'v', 80, %s, '{}', '{}', %s)",
                [
                    (
                        day,
                        u,
                        self.registered[u]["entity_type"],
                        self.registered[u]["region_code"],
                        {"enterprise": "ENT", "individual": "IND", "cooperative": "COOP"}[
                            self.registered[u]["entity_type"]
                        ],
                        c,
                        pub,
                    )
                    for u, c in classes.items()
                ],
            )
            cur.executemany(
                "insert into published.indicator_scores (as_of, uscc, entity_type, region_code, i10, publication_id) "
                "values (%s, %s, %s, %s, %s, %s)",
                [
                    (
                        day,
                        u,
                        self.registered[u]["entity_type"],
                        self.registered[u]["region_code"],
                        i10.get(u, 100),
                        pub,
                    )
                    for u in classes
                ],
            )
        return pub

    def set_class(self, as_of: str, uscc: str, risk_class: str) -> None:
        self.conn.execute(
            "update published.risk_classifications set risk_class = %s where as_of = %s and uscc = %s",
            (risk_class, d(as_of), uscc),
        )

    def query(self, sql: str, *params: Any) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, *params: Any) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None


def _is_date(v: str) -> bool:
    if len(v) != 10 or v[4] != "-" or v[7] != "-":
        return False
    try:
        d(v)
    except ValueError:
        return False
    return True
