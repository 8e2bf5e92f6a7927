"""Exact reference implementation of the scoring marts (indicators.md v1), in rationals.

A helper module for test_scoring.py (it holds no tests).

Reads the same seeds as dbt (`dbt_project/seeds/systems/*.csv`) and computes, with
`fractions.Fraction` only, what `audit.risk_classifications`, `audit.credit_evaluations`
and `audit.level2_scores` must contain for one entity. The dbt tests compare the
warehouse against it; it is deliberately written the plain way (sum of weight × score
per parent, sort for the top losses) so that it shares no trick with the SQL.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "systems"
SEVERITY = {"exactly", "at_least"}


def _rows(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def round_half_up(x: Fraction, places: int) -> Fraction:
    """x rounded half up (x >= 0) to `places` decimals, exactly."""
    scale = 10**places
    return Fraction((x * scale + Fraction(1, 2)).__floor__(), scale)


def to_decimal(x: Fraction, places: int) -> Decimal:
    """A Fraction with at most `places` decimals as a Decimal with exactly `places` decimals."""
    assert (x * 10**places).denominator == 1, x
    return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal(1).scaleb(-places))


@dataclass
class System:
    code: str
    version: str
    entity_type: str
    output_kind: str
    level1: dict[str, Fraction] = field(default_factory=dict)
    level2: dict[str, Fraction] = field(default_factory=dict)  # weight within its level-1 parent
    level3: dict[str, Fraction] = field(default_factory=dict)  # weight within its level-2 parent
    bands: list[tuple[Fraction, int, str]] = field(default_factory=list)  # (min, rank, outcome), min desc
    rules: list[dict[str, str]] = field(default_factory=list)

    def rank_of(self, outcome: str) -> int:
        return next(rank for _, rank, o in self.bands if o == outcome)


@dataclass
class Library:
    indicators: list[tuple[str, str, str]]  # (code, level2, level1) by code
    systems: dict[str, System]

    @property
    def level2_codes(self) -> list[str]:
        return list(dict.fromkeys(l2 for _, l2, _ in self.indicators))

    @property
    def level1_codes(self) -> list[str]:
        return list(dict.fromkeys(l1 for _, _, l1 in self.indicators))

    def effective_weight(self, system: System, code: str) -> Fraction:
        _, l2, l1 = next(i for i in self.indicators if i[0] == code)
        return system.level1[l1] * system.level2[l2] * system.level3[code]


def load_library() -> Library:
    """The indicator library and the systems, from the seed CSVs."""
    indicators = sorted(
        (r["indicator_code"], r["level2_code"], r["level1_code"]) for r in _rows("indicator_library")
    )
    systems = {
        r["system_code"]: System(r["system_code"], r["system_version"], r["entity_type"], r["output_kind"])
        for r in _rows("systems")
    }
    for r in _rows("system_level1_weights"):
        systems[r["system_code"]].level1[r["level1_code"]] = Fraction(
            int(r["weight_numerator"]), int(r["weight_denominator"])
        )
    for r in _rows("system_level2_weights"):
        systems[r["system_code"]].level2[r["level2_code"]] = Fraction(
            int(r["weight_numerator"]), int(r["weight_denominator"])
        )
    for r in _rows("system_level3_weights"):
        systems[r["system_code"]].level3[r["indicator_code"]] = Fraction(
            int(r["weight_numerator"]), int(r["weight_denominator"])
        )
    for r in _rows("risk_class_bands"):
        systems[r["system_code"]].bands.append(
            (Fraction(r["min_total_score"]), int(r["severity_rank"]), r["risk_class"])
        )
    for r in _rows("credit_grade_bands"):
        systems[r["system_code"]].bands.append(
            (Fraction(r["min_total_score"]), int(r["severity_rank"]), r["credit_grade"])
        )
    for r in _rows("direct_rules"):
        assert r["effect"] in SEVERITY
        systems[r["system_code"]].rules.append(r)
    for s in systems.values():
        s.bands.sort(reverse=True)
        s.rules.sort(key=lambda r: int(r["check_order"]))
    return Library(indicators, systems)


def _rule_holds(code: str, param: str, e: dict[str, Any], system: System) -> bool:
    if code == "R0":
        others = [r for r in system.rules if r["rule_code"] != "R0"]
        return (
            e["days_established"] is not None
            and e["days_established"] < int(param)
            and e["has_any_record_ever"] is False
            and not any(_rule_holds(r["rule_code"], r["parameter_value"], e, system) for r in others)
        )
    if code == "R1":
        return bool(e["is_on_serious_dishonesty_now"])
    if code == "R2":
        return bool(e["has_unrepaired_revocation_36m"])
    if code == "R3":
        return bool(e["is_dishonest_debtor_now"])
    if code == "R4":
        return bool(e["is_abnormal_now"])
    if code == "R5":
        return e["latest_tax_rating"] == param
    if code == "R6":
        return e["farmer_member_ratio"] is not None and Fraction(e["farmer_member_ratio"]) < Fraction(param)
    raise ValueError(code)


@dataclass
class Result:
    total_exact: Fraction
    total_score: Decimal  # 2 decimals
    level1: dict[str, Decimal]  # shown at 10 decimals
    level2: dict[str, Decimal]  # shown at 10 decimals
    outcome: str
    fired_rules: list[str]
    top_losses: list[str]


def score(lib: Library, system: System, e: dict[str, Any]) -> Result:
    """Score entity `e` (a dict with i01 … i44 as Decimal/str, plus the rule inputs) in `system`."""
    s = {code: Fraction(e[code.lower()]) for code, _, _ in lib.indicators}
    l2: dict[str, Fraction] = defaultdict(Fraction)
    for code, k, _ in lib.indicators:
        l2[k] += system.level3[code] * s[code]
    l1: dict[str, Fraction] = defaultdict(Fraction)
    for k, j in dict.fromkeys((k, j) for _, k, j in lib.indicators):  # each level-2 code once
        l1[j] += system.level2[k] * l2[k]
    total = sum((system.level1[j] * l1[j] for j in lib.level1_codes), Fraction(0))
    total2 = round_half_up(round_half_up(total, 10), 2)

    band_rank = next(rank for lo, rank, _ in system.bands if total2 >= lo)
    rank = None
    for r in system.rules:  # exact rules, in check order, decide alone
        if r["effect"] == "exactly" and _rule_holds(r["rule_code"], r["parameter_value"], e, system):
            rank = system.rank_of(r["result"])
            break
    if rank is None:
        rank = max(
            [band_rank]
            + [
                system.rank_of(r["result"])
                for r in system.rules
                if r["effect"] == "at_least" and _rule_holds(r["rule_code"], r["parameter_value"], e, system)
            ]
        )
    outcome = next(o for _, rk, o in system.bands if rk == rank)
    fired = sorted(
        r["rule_code"] for r in system.rules if _rule_holds(r["rule_code"], r["parameter_value"], e, system)
    )
    losses = sorted(
        (-round_half_up(lib.effective_weight(system, code) * (100 - s[code]), 6), code)
        for code, _, _ in lib.indicators
    )
    return Result(
        total_exact=total,
        total_score=to_decimal(total2, 2),
        level1={j: to_decimal(round_half_up(v, 10), 10) for j, v in l1.items()},
        level2={k: to_decimal(round_half_up(v, 10), 10) for k, v in l2.items()},
        outcome=outcome,
        fired_rules=fired,
        top_losses=[code for _, code in losses[:3]],
    )
