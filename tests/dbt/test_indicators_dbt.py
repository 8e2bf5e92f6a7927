"""dbt staging and indicator layer (issue 5, part A): contract consistency and an end-to-end build.

The end-to-end test loads a handful of raw rows (corrections, a retraction, an orphan, an inactive
entity, two records of one month) into a fresh database, runs `dbt build` on the staging and
intermediate layers with the indicator seeds - which also runs every dbt unit test of those models -
and checks staging and `intermediate.int_indicator_scores` against values worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from credit_risk import feeds

DBT = Path(__file__).resolve().parents[2] / "dbt_project"
STAGING = DBT / "models" / "staging"
INTERMEDIATE = DBT / "models" / "intermediate"
AS_OF = dt.date(2025, 6, 30)


def _yml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_sources_match_the_feed_contract() -> None:
    """_sources.yml lists every feed of FEEDS with exactly its raw columns, each described."""
    doc = _yml(STAGING / "_sources.yml")
    (source,) = doc["sources"]
    assert source["name"] == "raw" and source["schema"] == "raw"
    tables = {t["name"]: t for t in source["tables"]}
    assert set(tables) == {f.name for f in feeds.FEEDS}
    for f in feeds.FEEDS:
        expected = [c.name for c in f.all_columns] + [n for n, _ in feeds.RAW_META_COLUMNS]
        columns = tables[f.name]["columns"]
        assert [c["name"] for c in columns] == expected, f.name
        assert all(c.get("description") for c in columns), f.name
        assert tables[f.name].get("description"), f.name


@pytest.mark.parametrize("feed", feeds.FEEDS, ids=lambda f: f.key)
def test_staging_model_per_feed(feed: feeds.Feed) -> None:
    """One stg_<department>__<feed> model per feed: contract columns minus `deleted`, plus
    `_delivery_date`, described, with key tests; the only layer that calls source()."""
    name = f"stg_{feed.department}__{feed.name}"
    sql = (STAGING / feed.department / f"{name}.sql").read_text()
    (model,) = _yml(STAGING / feed.department / f"{name}.yml")["models"]
    assert model["name"] == name and model["description"]
    expected = [c.name for c in feed.all_columns if c.name != "deleted"] + ["_delivery_date"]
    assert [c["name"] for c in model["columns"]] == expected
    assert all(c.get("description") for c in model["columns"])
    key = next(c for c in model["columns"] if c["name"] == feed.key_column)
    assert {"unique", "not_null"} <= set(key["data_tests"])
    assert f"source('raw', '{feed.name}')" in sql
    for c in feed.all_columns:
        if c.values:
            col = next(x for x in model["columns"] if x["name"] == c.name)
            tests = [t for t in col["data_tests"] if isinstance(t, dict) and "accepted_values" in t]
            assert tests[0]["accepted_values"]["arguments"]["values"] == list(c.values)


def test_intermediate_models_documented_and_source_free() -> None:
    """Every intermediate model and column is described; none calls source()."""
    for sql_path in INTERMEDIATE.glob("*.sql"):
        assert "source(" not in sql_path.read_text(), sql_path.name
        (model,) = _yml(sql_path.with_suffix(".yml"))["models"]
        assert model["description"]
        assert model["columns"] and all(c.get("description") for c in model["columns"]), sql_path.name


def test_every_indicator_has_a_unit_test_and_a_score_column() -> None:
    """i01 ... i44 appear in int_indicator_scores and each is expected by at least one unit test."""
    scores = _yml(INTERMEDIATE / "int_indicator_scores.yml")
    names = [c["name"] for c in scores["models"][0]["columns"]]
    codes = [f"i{k:02d}" for k in range(1, 45)]
    assert [n for n in names if re.fullmatch(r"i\d\d", n)] == codes
    tested: set[str] = set()
    for path in INTERMEDIATE.glob("int_indicators_*.yml"):
        for ut in _yml(path).get("unit_tests") or []:
            for row in ut["expect"]["rows"]:
                tested.update(k for k in row if re.fullmatch(r"i\d\d", k))
    assert tested == set(codes)


# ---------------------------------------------------------------- end to end on PostgreSQL

META = ("_delivery_id", "_delivery_date", "_file_name", "_line_no")
E1, E2, E3, E4, ORPHAN = (
    "91230100MA000001E1",
    "91230100MA000002E2",
    "91230100MA000003E3",
    "91230100MA000004E4",
    "91230100MA0000XXXX",
)


def _registration(uscc: str, **values: Any) -> dict[str, Any]:
    """A registration row of the snapshot delivered 2025-06-30, with `values` overriding the defaults."""
    row = {
        "uscc": uscc,
        "entity_name": f"entity {uscc[-2:]}",
        "entity_type": "enterprise",
        "industry_code": "0111",
        "region_code": "230102",
        "registered_capital": "100.00",
        "established_on": "2010-01-01",
        "status": "active",
        "status_changed_on": None,
        "address": uscc,
        "legal_rep_name": "n" * 64,
        "legal_rep_id_no": f"rep-{uscc}",
        "contact_phone": None,
        "is_four_new": False,
        "farmer_member_ratio": None,
        "_delivery_id": 1,
        "_delivery_date": "2025-06-30",
        "_file_name": "part-0001.csv",
        "_line_no": 2,
    }
    return {**row, **values}


def _penalty(record_id: str, uscc: str, **values: Any) -> dict[str, Any]:
    """A penalty row version, with `values` overriding the defaults."""
    row = {
        "record_id": record_id,
        "uscc": uscc,
        "decision_no": f"no-{record_id}",
        "decided_on": "2025-01-05",
        "violation_type": "v",
        "severity": "warning",
        "fine_amount": None,
        "publicity_end_on": None,
        "repaired_on": None,
        "deleted": False,
        "_delivery_id": 2,
        "_delivery_date": "2025-01-10",
        "_file_name": "part-0001.csv",
        "_line_no": 2,
    }
    return {**row, **values}


def _bill(record_id: str, uscc: str, kwh: int, arrears: str) -> dict[str, Any]:
    """An electricity bill for June 2025."""
    return {
        "record_id": record_id,
        "uscc": uscc,
        "period": "2025-06-01",
        "kwh": kwh,
        "amount_billed": "10.00",
        "amount_paid": "10.00",
        "arrears_balance": arrears,
        "deleted": False,
        "_delivery_id": 3,
        "_delivery_date": "2025-07-03",
        "_file_name": "part-0001.csv",
        "_line_no": 2,
    }


RAW_ROWS: dict[str, list[dict[str, Any]]] = {
    "registration": [
        # E1 and E2 share an address once normalized (U+3000, full-width digit)
        _registration(
            E1,
            established_on="2015-01-01",
            registered_capital="5000000.00",
            address="哈尔滨市\u3000道里区1号",
            contact_phone="p1",
            industry_code="6210",
        ),
        _registration(
            E2,
            entity_type="individual",
            established_on="2025-03-01",
            registered_capital=None,
            address="哈尔滨市道里区１号",
        ),
        _registration(E3, entity_type="cooperative", status="revoked", status_changed_on="2025-01-01"),
        _registration(E4, _delivery_date="2025-05-31"),  # only in an older snapshot: not in the registry
    ],
    "penalties": [
        _penalty("pen-1", E1, fine_amount="100.00"),
        # a correction in a later delivery wins
        _penalty("pen-1", E1, severity="fine_large", fine_amount="20000.00", _delivery_date="2025-02-10"),
        _penalty("pen-2", E1, severity="license_revocation"),
        _penalty("pen-2", E1, severity="license_revocation", deleted=True, _delivery_date="2025-02-10"),
        _penalty("pen-3", ORPHAN, severity="license_revocation"),  # orphan: not in the registry
        _penalty("pen-4", E3, severity="license_revocation"),  # an entity not active at as_of
    ],
    "utility_bills": [_bill("ub-1", E1, 10, "300.00"), _bill("ub-2", E1, 5, "800.00")],
}


def _load_raw(conn: Any) -> None:
    """Raw tables per the contract DDL, rows by COPY (as the loader writes them)."""
    conn.execute("create schema if not exists raw")
    for f in feeds.FEEDS:
        conn.execute(feeds.raw_table_ddl(f))
    for table, rows in RAW_ROWS.items():
        f = feeds.FEEDS_BY_NAME[table]
        cols = [c.name for c in f.all_columns] + list(META)
        with conn.cursor().copy(f"copy raw.{table} ({', '.join(cols)}) from stdin") as copy:
            for row in rows:
                copy.write_row([row.get(c) for c in cols])


@pytest.fixture(scope="module")
def built(fresh_database) -> dict[str, Any]:
    """A fresh t_dbt_ind database with the raw rows above, built by dbt for AS_OF."""
    fresh_database("dbt_ind")
    from credit_risk import db, dbt_build

    with db.connect(autocommit=True) as conn:
        _load_raw(conn)
    return dbt_build.invoke(
        [
            "build",
            "--select",
            "path:seeds/indicators",
            "path:models/staging",
            "path:models/intermediate",
            "--indirect-selection",
            "cautious",
        ],
        as_of=AS_OF,
    )


@pytest.mark.db
def test_build_passes_with_every_unit_and_data_test(built: dict[str, Any]) -> None:
    assert built["success"], built["failures"] or built["exception"]
    assert not built["failures"]
    # seeds 4, models 30, the unit tests and data tests of the layer
    assert sum(built["counts"].values()) > 150


def _rows(sql: str) -> list[dict[str, Any]]:
    from credit_risk import db

    with db.connect() as conn:
        cur = conn.execute(sql)
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.mark.db
def test_staging_keeps_latest_versions_only(built: dict[str, Any]) -> None:
    rows = _rows(
        "select record_id, severity, fine_amount from staging.stg_samr__penalties order by record_id"
    )
    assert rows == [
        {"record_id": "pen-1", "severity": "fine_large", "fine_amount": Decimal("20000.00")},
        {"record_id": "pen-3", "severity": "license_revocation", "fine_amount": None},
        {"record_id": "pen-4", "severity": "license_revocation", "fine_amount": None},
    ]
    assert _rows("select uscc from staging.stg_samr__registration order by uscc") == [
        {"uscc": E1},
        {"uscc": E2},
        {"uscc": E3},
    ]


@pytest.mark.db
def test_scores_of_active_entities(built: dict[str, Any]) -> None:
    rows = _rows(
        "select uscc, as_of, entity_type, i02, i03, i05, i06, i13, i15, i16, i17, i28, i29,"
        " has_unrepaired_revocation_36m, has_any_record_ever, days_established"
        " from intermediate.int_indicator_scores order by uscc"
    )
    assert [r["uscc"] for r in rows] == [E1, E2]  # E3 revoked, E4 not in the latest snapshot, no orphan
    e1, e2 = rows
    assert e1["as_of"] == AS_OF and e1["entity_type"] == "enterprise"
    # 5 000 000 -> 85; two active entities at the address -> 100; phone of one -> 100; division 62 high -> 40
    assert (e1["i02"], e1["i03"], e1["i05"], e1["i06"]) == (85, 100, 100, 40)
    # one penalty counted (the correction: fine_large, 20 000), the retracted revocation gone
    assert (e1["i15"], e1["i16"], e1["i17"]) == (60, 30, 50)
    assert e1["has_unrepaired_revocation_36m"] is False and e1["has_any_record_ever"] is True
    # two bills of one month: 1 month with power use and in arrears, arrears 300 + 800 = 1100 -> 40
    assert e1["i13"] == Decimal("8.3333333333333333333333333333333333333333")
    assert e1["i28"] == Decimal("91.6666666666666666666666666666666666666667")
    assert e1["i29"] == 40
    # no capital -> neutral 60; no phone -> neutral 80; no data of the monthly feeds -> neutral
    assert (e2["i02"], e2["i03"], e2["i05"], e2["i13"], e2["i29"]) == (60, 100, 80, 60, 80)
    assert e2["has_any_record_ever"] is False and e2["days_established"] == 121
