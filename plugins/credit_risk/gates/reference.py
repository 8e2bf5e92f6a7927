"""What the output gates check against, read from the dbt seeds (the one source of truth).

Systems and the entity type each applies to, the risk classes and credit grades, the rule
codes, the 44 indicator codes, and the level-1 / level-2 codes of each system come from
`dbt_project/seeds/systems/*.csv` (indicators.md v1), so a regulator's change to a seed
changes what the gates expect without touching code. Read from the files, not from the
warehouse, so the gates also run where `dbt seed` has not (test fixtures).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from credit_risk import config


@dataclass(frozen=True)
class System:
    """One indicator system (ENT, IND, COOP: risk class; IBE: credit grade)."""

    code: str
    version: str
    entity_type: str
    output_kind: str  # risk_class | credit_grade


@dataclass(frozen=True)
class Reference:
    """The seeds, as the gates need them."""

    systems: tuple[System, ...]
    classes: dict[str, tuple[str, ...]]  # system -> risk classes or grades, best first
    rule_codes: dict[str, tuple[str, ...]]  # system -> direct-rule codes
    indicator_codes: tuple[str, ...]  # I01 … I44
    level1_codes: tuple[str, ...]  # BAS, OPS, REG, FIN, SOC, EVA
    level2_codes: dict[str, tuple[str, ...]]  # system -> its 20 second-level codes

    @property
    def class_systems(self) -> tuple[System, ...]:
        """Systems whose output is a risk class (audit.risk_classifications)."""
        return tuple(s for s in self.systems if s.output_kind == "risk_class")

    @property
    def grade_systems(self) -> tuple[System, ...]:
        """Systems whose output is a credit grade (audit.credit_evaluations)."""
        return tuple(s for s in self.systems if s.output_kind == "credit_grade")

    def ordered_classes(self) -> tuple[str, ...]:
        """Risk classes of all class systems, best first (A, B, C, D)."""
        out: list[str] = []
        for s in self.class_systems:
            out += [c for c in self.classes[s.code] if c not in out]
        return tuple(out)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def load(seed_dir: Path | None = None) -> Reference:
    """Read the system seeds (cached per folder)."""
    d = seed_dir or config.dbt_project_dir() / "seeds" / "systems"
    systems = tuple(
        System(r["system_code"], r["system_version"], r["entity_type"], r["output_kind"])
        for r in _rows(d / "systems.csv")
    )
    classes: dict[str, list[tuple[int, str]]] = {}
    for r in _rows(d / "risk_class_bands.csv"):
        classes.setdefault(r["system_code"], []).append((int(r["severity_rank"]), r["risk_class"]))
    for r in _rows(d / "credit_grade_bands.csv"):
        classes.setdefault(r["system_code"], []).append((int(r["severity_rank"]), r["credit_grade"]))
    rules: dict[str, list[tuple[int, str]]] = {}
    for r in _rows(d / "direct_rules.csv"):
        rules.setdefault(r["system_code"], []).append((int(r["check_order"]), r["rule_code"]))
    library = _rows(d / "indicator_library.csv")
    level1 = tuple(dict.fromkeys(r["level1_code"] for r in library))
    level2: dict[str, list[str]] = {}
    for r in _rows(d / "system_level2_weights.csv"):
        codes = level2.setdefault(r["system_code"], [])
        if r["level2_code"] not in codes:
            codes.append(r["level2_code"])
    return Reference(
        systems=systems,
        classes={k: tuple(c for _, c in sorted(v)) for k, v in classes.items()},
        rule_codes={k: tuple(c for _, c in sorted(v)) for k, v in rules.items()},
        indicator_codes=tuple(sorted(r["indicator_code"] for r in library)),
        level1_codes=level1,
        level2_codes={k: tuple(v) for k, v in level2.items()},
    )
