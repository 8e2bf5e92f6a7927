"""Data of the exports tests: a small hand-built published warehouse in database t_exports.

The published tables are created here (the publish area owns them in the real pipeline) with a
few dozen rows chosen to exercise entitlements: every grade and risk class, five counties in
three prefectures, enterprises and cooperatives (never in an IBE package), a superseded
publication of the exported as_of, names that are formulas, contain commas, quotes and line
breaks, characters outside the BMP, and an entity missing from the registration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg

DB_NAME = "exports"
AS_OF = dt.date(2025, 6, 30)
OLD_AS_OF = dt.date(2025, 5, 31)
BLOCKED_AS_OF = dt.date(2025, 7, 31)
PUB = 3  # the publication in force for AS_OF
OLD_PUB = 1
STALE_PUB = 2  # an earlier publication of AS_OF whose rows must never be exported

GRADES = ["AAA", "AA", "A", "B", "C"]
CLASSES = ["A", "B", "C", "D"]
REGIONS = ["230102", "230103", "230202", "231002", "230602"]
SPECIAL_NAMES = {
    0: '=HYPERLINK("http://example.invalid","点我")',
    1: "+8613800000000 商行",
    2: "-减价超市",
    3: "@SUM(A1) 便利店",
    4: '王记,"老字号"\n面馆',
    5: "𠀀𡈼堂 ☕ 茶社",  # outside the BMP: four bytes in GB18030
    6: "NULL",
    9: "\t制表符小卖部",
}
MISSING_FROM_REGISTRATION = 7
SCORES = ["score_bas", "score_ops", "score_reg", "score_fin", "score_soc", "score_eva"]
INDICATORS = [f"i{n:02d}" for n in range(1, 45)]


def uscc(kind: str, n: int) -> str:
    """An 18-character code, unique per kind and n (checksums do not matter to exports)."""
    return (
        f"9{ {'individual': '2', 'enterprise': '1', 'cooperative': '3', 'stale': '9'}[kind] }230100MA{n:07d}X"
    )


def region_of(kind: str, n: int) -> str:
    # not correlated with the grade (n % 5) or the risk class (n % 4)
    return REGIONS[(n // 5 + (kind != "individual")) % len(REGIONS)]


@dataclass
class Warehouse:
    """What the fixture loaded, for computing expectations independently of the exporter."""

    url: str
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    classifications: list[dict[str, Any]] = field(default_factory=list)
    indicators: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def build_rows() -> Warehouse:
    wh = Warehouse(url="")
    for n in range(40):
        code = uscc("individual", n)
        region = region_of("individual", n)
        grade = GRADES[n % 5]
        fired = None if n % 11 == 10 else (["R3", "R4"] if n % 3 == 0 else [])
        ev = {
            "as_of": AS_OF,
            "uscc": code,
            "region_code": region,
            "total_score": Decimal(50 + (n * 7) % 50) + Decimal("0.25"),
            **{s: Decimal(n + i) / 3 for i, s in enumerate(SCORES)},
            "credit_grade": grade,
            "fired_rules": fired,
            "top_losses": ["I15", "I18", "I01"],
            "publication_id": PUB,
        }
        wh.evaluations.append(ev)
        if n < 10:
            wh.evaluations.append({**ev, "as_of": OLD_AS_OF, "publication_id": OLD_PUB, "credit_grade": "B"})
        if n != MISSING_FROM_REGISTRATION:
            wh.names[code] = SPECIAL_NAMES.get(n, f"哈尔滨市{n}号小吃店")
    for n in range(3):  # a superseded publication of the same as_of
        code = uscc("stale", n)
        wh.evaluations.append(
            {**wh.evaluations[0], "uscc": code, "publication_id": STALE_PUB, "credit_grade": "AAA"}
        )
        wh.names[code] = f"已撤回{n}"
    entities = [("individual", n) for n in range(40)] + [("enterprise", n) for n in range(6)]
    entities += [("cooperative", n) for n in range(3)]
    for i, (kind, n) in enumerate(entities):
        code = uscc(kind, n)
        region = region_of(kind, n)
        system = {"individual": "IND", "enterprise": "ENT", "cooperative": "COOP"}[kind]
        wh.classifications.append(
            {
                "as_of": AS_OF,
                "uscc": code,
                "entity_type": kind,
                "region_code": region,
                "system_code": system,
                "system_version": "v3.0" if system == "ENT" else "v1",
                "total_score": Decimal(60 + i % 40) + Decimal("0.5"),
                **{s: Decimal(i + k) / 7 for k, s in enumerate(SCORES)},
                "risk_class": CLASSES[i % 4],
                "fired_rules": ["R4"] if i % 4 == 2 else [],
                "top_losses": ["I01", "I02", "I03"],
                "publication_id": PUB,
            }
        )
        wh.indicators.append(
            {
                "as_of": AS_OF,
                "uscc": code,
                "entity_type": kind,
                "region_code": region,
                **{ind: Decimal((i + k) % 101) for k, ind in enumerate(INDICATORS)},
                "publication_id": PUB,
            }
        )
        if kind != "individual":
            wh.names[code] = f"企业{n}有限公司"
    return wh


DDL = f"""
create schema published;
create schema staging;
create table published.publications (
    publication_id bigint primary key, as_of date not null, status text not null,
    finished_at timestamptz);
create table published.credit_evaluations (
    as_of date, uscc char(18), region_code char(6), total_score numeric(5,2),
    {", ".join(f"{s} numeric" for s in SCORES)},
    credit_grade text, fired_rules text[], top_losses text[], publication_id bigint);
create table published.risk_classifications (
    as_of date, uscc char(18), entity_type text, region_code char(6), system_code text,
    system_version text, total_score numeric(5,2), {", ".join(f"{s} numeric" for s in SCORES)},
    risk_class text, fired_rules text[], top_losses text[], publication_id bigint);
create table published.indicator_scores (
    as_of date, uscc char(18), entity_type text, region_code char(6),
    {", ".join(f"{i} numeric" for i in INDICATORS)}, publication_id bigint);
create table staging.stg_samr__registration (
    uscc char(18), entity_name text, entity_type text, region_code char(6),
    legal_rep_name text, legal_rep_id_no text, contact_phone text);
"""


def copy_rows(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    cols = list(rows[0])
    with conn.cursor() as cur, cur.copy(f"copy {table} ({', '.join(cols)}) from stdin") as cp:
        for r in rows:
            cp.write_row([r[c] for c in cols])


def _scenario(sid: str, number: int, owner: str, grades: list[str]) -> dict[str, Any]:
    return {
        "id": sid,
        "number": number,
        "name_zh": f"场景{number}",
        "name_en": f"Scenario {number}",
        "owner": owner,
        "treatments": {g: {"zh": f"{g}级措施", "en": f"{g} treatment"} for g in grades},
        "source_document": "test",
    }


def small_config_docs() -> tuple[dict[str, Any], dict[str, Any]]:
    """Three scenarios and three consumers covering every option."""
    scenarios = {
        "version": 1,
        "system": "IBE",
        "source_document": "test",
        "scenarios": [
            _scenario("s_all", 1, "c_all", GRADES),
            _scenario("s_top", 2, "c_gb", ["AAA", "AA"]),
            _scenario("s_c", 3, "c_region", ["C"]),
        ],
    }
    consumers = {
        "version": 1,
        "source_document": "test",
        "defaults": {"formats": {"csv_encoding": "utf-8-sig", "parquet": True, "spreadsheet": True}, "retention": 2},
        "column_sets": {"ce_wide": ["as_of", "uscc", "entity_name", "region_code", "credit_grade", "treatment_zh",
                                    "treatment_en", "total_score", "score_bas", "fired_rules", "top_losses",
                                    "publication_id"]},
        "consumers": [
            {
                "id": "c_all",
                "name_zh": "全量部门",
                "name_en": "All-data department",
                "scenarios": ["s_all", "s_top"],
                "tables": {
                    "credit_evaluations": "ce_wide",
                    "risk_classifications": ["uscc", "entity_name", "entity_type", "system_code", "risk_class",
                                             "score_eva", "fired_rules"],
                    "indicator_scores": ["uscc", "i01", "i44"],
                },
                "delivery_day": 5,
                "source_document": "test",
            },
            {
                "id": "c_gb",
                "name_zh": "国标编码部门",
                "name_en": "GB18030 department",
                "scenarios": ["s_top"],
                "tables": {"credit_evaluations": ["uscc", "entity_name", "credit_grade", "treatment_zh"]},
                "formats": {"csv_encoding": "gb18030", "parquet": False, "spreadsheet": False},
                "source_document": "test",
            },
            {
                "id": "c_region",
                "name_zh": "地市部门",
                "name_en": "Prefecture department",
                "scenarios": ["s_c", "s_all"],
                "tables": {
                    "credit_evaluations": ["uscc", "region_code", "credit_grade"],
                    "risk_classifications": ["uscc", "region_code", "risk_class"],
                },
                "filters": {"region_prefixes": ["2301"], "grades": ["A", "B", "C"], "entity_types": ["individual"],
                            "risk_classes": ["C", "D"]},
                "formats": {"csv_encoding": "utf-8-sig", "parquet": True, "spreadsheet": False},
                "retention": 1,
                "source_document": "test",
            },
        ],
    }  # fmt: skip
    return scenarios, consumers
