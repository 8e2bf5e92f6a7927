"""The scoring marts (issue 5 part B) against an exact rational reference.

One `dbt build` of the seeds in `seeds/systems/` and the models in `models/marts/` (which runs
their unit tests and data tests too) over a stand-in `intermediate.int_indicator_scores`:
random entities plus entities whose total is constructed to lie within 1e-10 of a class or
grade edge, where rounding to 10 and then 2 decimals differs from rounding straight to 2.
Every output row is then compared with `test_scoring_reference.py` (Python `Fraction`s).
"""

from __future__ import annotations

import collections
import io
import os
import random
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_scoring_reference import Library, Result, load_library, round_half_up, score

ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = ROOT / "dbt_project"
DBT = ROOT / ".venv" / "bin" / "dbt"
AS_OF = "2025-06-30"
N_RANDOM = 600

COLUMNS: list[tuple[str, str]] = [
    ("as_of", "date"),
    ("uscc", "text"),
    ("entity_type", "text"),
    ("region_code", "text"),
    ("industry_code", "text"),
    ("established_on", "date"),
    ("farmer_member_ratio", "numeric"),
    ("is_four_new", "boolean"),
    *[(f"i{n:02d}", "numeric") for n in range(1, 45)],
    ("is_on_serious_dishonesty_now", "boolean"),
    ("has_unrepaired_revocation_36m", "boolean"),
    ("is_dishonest_debtor_now", "boolean"),
    ("is_abnormal_now", "boolean"),
    ("latest_tax_rating", "text"),
    ("has_any_record_ever", "boolean"),
    ("days_established", "integer"),
]
ENTITY_TYPES = {"enterprise": "ENT", "individual": "IND", "cooperative": "COOP"}


def _decimal_text(x: Fraction, places: int) -> str:
    """x (>= 0) rounded half up to `places` decimals, as plain text."""
    units = round_half_up(x, places) * 10**places  # an integer
    return format(Decimal(int(units)).scaleb(-places), "f")


def _random_score(rng: random.Random) -> str:
    """Scores shaped like the indicators': band values, k/12 and k/3 shares at 16-18
    decimals (as PostgreSQL division leaves them), and arbitrary decimals."""
    kind = rng.random()
    if kind < 0.55:
        return str(rng.choice([100, 100, 100, 85, 80, 70, 60, 50, 40, 30, 20, 0]))
    if kind < 0.75:
        return _decimal_text(Fraction(100 * rng.randint(0, 12), 12), rng.choice([16, 18]))
    if kind < 0.85:
        return _decimal_text(Fraction(100 * rng.randint(0, 3), 3), 16)
    return _decimal_text(Fraction(rng.randint(0, 10**12), 10**10), rng.choice([0, 2, 6, 10, 12]))


def _base_entity(rng: random.Random, uscc: str, entity_type: str) -> dict[str, Any]:
    days = rng.choice([rng.randint(0, 9000), 182, 183, rng.randint(0, 200)])
    flag = rng.random
    return {
        "as_of": AS_OF,
        "uscc": uscc,
        "entity_type": entity_type,
        "region_code": f"2301{rng.randint(0, 99):02d}",
        "industry_code": "5211",
        "established_on": None,
        "farmer_member_ratio": (
            rng.choice([None, "0.8", "0.79", "0.95", "0.5", "0.8000001"])
            if entity_type == "cooperative"
            else None
        ),
        "is_four_new": False,
        **{f"i{n:02d}": _random_score(rng) for n in range(1, 45)},
        "is_on_serious_dishonesty_now": flag() < 0.05,
        "has_unrepaired_revocation_36m": flag() < 0.04,
        "is_dishonest_debtor_now": flag() < 0.06,
        "is_abnormal_now": flag() < 0.08,
        "latest_tax_rating": rng.choice(["A", "B", "M", "C", "D", None]),
        "has_any_record_ever": flag() < 0.5,
        "days_established": days,
    }


def _clean(e: dict[str, Any]) -> dict[str, Any]:
    """No rule fires: the entity's class is its score band."""
    e.update(
        is_on_serious_dishonesty_now=False,
        has_unrepaired_revocation_36m=False,
        is_dishonest_debtor_now=False,
        is_abnormal_now=False,
        latest_tax_rating="A",
        has_any_record_ever=True,
        farmer_member_ratio=None,
    )
    return e


def _edge_entities(lib: Library, rng: random.Random) -> list[dict[str, Any]]:
    """Entities whose exact total sits just below, on or above x.xx5 at the 11th decimal
    next to every band edge: the 44th indicator is solved for (kept to 20 decimals)."""
    out = []
    edges = {"ENT": [85, 75, 60], "IND": [85, 75, 60], "COOP": [85, 75, 60], "IBE": [90, 80, 70, 60]}
    offsets = [
        Fraction(-5, 10**11),  # exactly half at the 11th decimal: up to the edge
        Fraction(-50001, 10**15),  # just below half: stays below the edge
        Fraction(-49, 10**12),
        Fraction(-1, 3 * 10**10),  # a third: 84.99499999996666…
        Fraction(0),
        Fraction(-1, 10**12),
    ]
    entity_type_of = {s.code: s.entity_type for s in lib.systems.values()}
    n = 0
    for system_code, targets in edges.items():
        system = lib.systems[system_code]
        for edge in targets:
            for offset in offsets:
                target = Fraction(edge) - Fraction(5, 1000) + offset
                heaviest = max(lib.indicators, key=lambda i: lib.effective_weight(system, i[0]))[0]
                while True:  # scores near the target, then the heaviest indicator solved for
                    e = _clean(_base_entity(rng, f"EDGE{n:06d}", entity_type_of[system_code]))
                    for code, _, _ in lib.indicators:
                        e[code.lower()] = _decimal_text(
                            target + Fraction(rng.randint(-100, 100), 100), rng.choice([0, 2, 16])
                        )
                    w = lib.effective_weight(system, heaviest)
                    rest = sum(
                        (
                            lib.effective_weight(system, c) * Fraction(e[c.lower()])
                            for c, _, _ in lib.indicators
                            if c != heaviest
                        ),
                        Fraction(0),
                    )
                    needed = (target - rest) / w
                    if 0 <= needed <= 100:
                        e[heaviest.lower()] = _decimal_text(needed, 20)
                        break
                out.append(e)
                n += 1
    return out


def _entities(lib: Library) -> list[dict[str, Any]]:
    rng = random.Random(20250630)
    kinds = ["enterprise"] * 3 + ["individual"] * 6 + ["cooperative"]
    randoms = [_base_entity(rng, f"RND{n:06d}", rng.choice(kinds)) for n in range(N_RANDOM)]
    return randoms + _edge_entities(lib, rng)


def _copy_stand_in(url: str, entities: list[dict[str, Any]]) -> None:
    """Create intermediate.int_indicator_scores with the part-A contract columns and COPY the entities in."""
    buf = io.StringIO()
    for e in entities:
        buf.write(
            "\t".join(
                "\\N" if e[c] is None else str(e[c]).lower() if isinstance(e[c], bool) else str(e[c])
                for c, _ in COLUMNS
            )
        )
        buf.write("\n")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists intermediate")
        conn.execute("drop table if exists intermediate.int_indicator_scores")
        conn.execute(
            "create table intermediate.int_indicator_scores ("
            + ", ".join(f"{c} {t}" for c, t in COLUMNS)
            + ")"
        )
        with conn.cursor().copy("copy intermediate.int_indicator_scores from stdin") as cp:
            cp.write(buf.getvalue())


def _dbt(args: list[str], target: Path) -> subprocess.CompletedProcess[str]:
    from credit_risk import db

    env = {**os.environ, **db.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "NO_COLOR": "1"}
    return subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(target / "target"),
            "--log-path",
            str(target / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def build(fresh_database) -> Iterator[dict[str, Any]]:
    """The warehouse after one `dbt build` of the scoring seeds and marts."""
    url = fresh_database("dbt_score")
    from credit_risk import security

    assert security.setup()  # the project's setup: dbt connects as the transformer role
    lib = load_library()
    entities = _entities(lib)
    _copy_stand_in(url, entities)
    from credit_risk import config

    # kept between runs (under the test home) so dbt can parse the project partially
    target = config.home() / "dbt_scoring"
    run = _dbt(
        [
            "build",
            "--select",
            "path:seeds/systems",
            "path:models/marts",
            "path:tests/scoring",
            "--vars",
            f"{{as_of: '{AS_OF}'}}",
        ],
        target,
    )
    reference = {
        (e["uscc"], code): score(lib, lib.systems[code], e)
        for e in entities
        for code in _systems_of(e["entity_type"])
    }
    yield {
        "url": url,
        "lib": lib,
        "entities": entities,
        "run": run,
        "target": target / "target",
        "reference": reference,
    }


def _systems_of(entity_type: str) -> list[str]:
    return [ENTITY_TYPES[entity_type]] + (["IBE"] if entity_type == "individual" else [])


def _fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def _reference(build: dict[str, Any], system_code: str, e: dict[str, Any]) -> Result:
    return build["reference"][(e["uscc"], system_code)]


def test_dbt_build_passes_with_unit_and_data_tests(build):
    run = build["run"]
    assert run.returncode == 0, run.stdout[-6000:]
    summary = [line for line in run.stdout.splitlines() if "Done. PASS=" in line][0]
    assert "ERROR=0" in summary and "WARN=0" in summary
    # the unit tests ran, all passing
    assert (
        sum("PASS" in line and "unit_test" not in line and "::" in line for line in run.stdout.splitlines())
        >= 14
    ), run.stdout[-3000:]


def test_risk_classifications_match_exact_reference(build):
    by_uscc = {e["uscc"]: e for e in build["entities"]}
    rows = _fetch(
        build["url"],
        "select uscc, entity_type, system_code, system_version, total_score, score_bas, score_ops, score_reg,"
        " score_fin, score_soc, score_eva, risk_class, fired_rules, top_losses, as_of::text"
        " from audit.risk_classifications",
    )
    assert len(rows) == len(by_uscc)
    lib: Library = build["lib"]
    for uscc, etype, system_code, version, total, *rest in rows:
        l1, (risk_class, fired, top, as_of) = rest[:6], rest[6:]
        e = by_uscc[uscc]
        assert (etype, system_code, version, as_of) == (
            e["entity_type"],
            ENTITY_TYPES[e["entity_type"]],
            lib.systems[system_code].version,
            AS_OF,
        )
        ref = _reference(build, system_code, e)
        assert total == ref.total_score, uscc
        assert l1 == [ref.level1[j] for j in lib.level1_codes], uscc
        assert (risk_class, fired, top) == (ref.outcome, ref.fired_rules, ref.top_losses), uscc


def test_credit_evaluations_match_exact_reference(build):
    individuals = {e["uscc"]: e for e in build["entities"] if e["entity_type"] == "individual"}
    rows = _fetch(
        build["url"],
        "select uscc, total_score, score_bas, score_ops, score_reg, score_fin, score_soc, score_eva,"
        " credit_grade, fired_rules, top_losses from audit.credit_evaluations",
    )
    assert sorted(r[0] for r in rows) == sorted(individuals)
    lib: Library = build["lib"]
    for uscc, total, *rest in rows:
        ref = _reference(build, "IBE", individuals[uscc])
        assert total == ref.total_score, uscc
        assert rest[:6] == [ref.level1[j] for j in lib.level1_codes], uscc
        assert (rest[6], rest[7], rest[8]) == (ref.outcome, ref.fired_rules, ref.top_losses), uscc


def test_edge_cases_need_the_two_step_rounding(build):
    """The data must be able to catch a one-step rounding: count the entities where
    rounding the exact total straight to 2 decimals would give another total."""
    differs = sum(
        round_half_up(ref.total_exact, 2) != Fraction(ref.total_score) for ref in build["reference"].values()
    )
    assert differs >= 20


def test_level2_scores_match_exact_reference(build):
    """Wide: one row per entity and system, the twenty level-2 scores in library order, each
    equal to the exact reference rounded half up to 10 decimals (value and scale)."""
    lib: Library = build["lib"]
    codes = lib.level2_codes
    with psycopg.connect(build["url"]) as conn:
        cur = conn.execute("select * from audit.level2_scores")
        names = [d.name for d in cur.description or ()]
        rows = cur.fetchall()
    assert names == ["as_of", "uscc", "system_code", *(c.lower() for c in codes)]
    got = {
        (uscc, system_code): [(v, v.as_tuple().exponent) for v in scores]
        for _, uscc, system_code, *scores in rows
    }
    assert len(got) == len(rows), "one row per entity and system"
    assert {str(r[0]) for r in rows} == {AS_OF}
    expected = {
        key: [(ref.level2[k], ref.level2[k].as_tuple().exponent) for k in codes]
        for key, ref in build["reference"].items()
    }
    assert len(expected) == len(got)
    assert got == expected


def test_indicator_scores_are_the_input_scores(build):
    rows = _fetch(build["url"], "select * from audit.indicator_scores")
    assert len(rows) == len(build["entities"])
    by_uscc = {e["uscc"]: e for e in build["entities"]}
    for row in rows:
        e = by_uscc[row[1]]
        given = [Decimal(e[f"i{n:02d}"]) for n in range(1, 45)]
        # same value and same scale: the audit copy neither rounds nor pads
        assert [(v, v.as_tuple().exponent) for v in row[4:]] == [(g, g.as_tuple().exponent) for g in given]


def test_class_distribution_counts(build):
    expected = collections.Counter((code, ref.outcome) for (_, code), ref in build["reference"].items())
    per_system = collections.Counter(code for (_, code) in build["reference"])
    rows = _fetch(build["url"], "select system_code, outcome, entities, share from audit.class_distribution")
    assert len(rows) == 4 + 4 + 4 + 5
    for system_code, outcome, entities, share in rows:
        assert entities == expected[(system_code, outcome)]
        assert Fraction(share) == round_half_up(Fraction(entities, per_system[system_code]), 6)


def _compiled_test_sql(build: dict[str, Any], name_part: str) -> str:
    found = [p for p in Path(build["target"], "compiled").rglob("*.sql") if name_part in p.name]
    assert len(found) == 1, found
    return found[0].read_text()


def test_weights_test_adds_fractions_exactly(build):
    """The compiled weights_sum_to_one test on the level-3 weights: 1/3 + 2/3 passes,
    1/3 + 1/2 and 33/100 + 66/100 do not (ENT BAS1 has two children I01 and I02)."""
    sql = _compiled_test_sql(build, "system_level3_weights_sum_to_one_per_level2")
    cases = [((1, 3), (2, 3), 0), ((1, 3), (1, 2), 1), ((33, 100), (66, 100), 1)]
    with psycopg.connect(build["url"]) as conn:
        for (n1, d1), (n2, d2), failing in cases:
            for code, n, d in (("I01", n1, d1), ("I02", n2, d2)):
                conn.execute(
                    "update reference.system_level3_weights set weight_numerator = %s, weight_denominator = %s"
                    " where system_code = 'ENT' and indicator_code = %s",
                    (n, d, code),
                )
            assert len(conn.execute(sql).fetchall()) == failing, (n1, d1, n2, d2)
        conn.rollback()


def test_every_entity_test_catches_a_missing_row(build):
    sql = _compiled_test_sql(build, "assert_every_active_entity_scored_once_per_system")
    with psycopg.connect(build["url"]) as conn:
        assert conn.execute(sql).fetchall() == []
        conn.execute(
            "delete from audit.risk_classifications where uscc = (select min(uscc) from audit.risk_classifications)"
        )
        assert len(conn.execute(sql).fetchall()) == 1
        conn.rollback()
