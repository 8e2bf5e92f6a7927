"""Supervision configuration: `plugins/credit_risk/config/supervision.yml` as typed settings.

Every ratio, threshold, period and warning rule is read from that file (the regulator's
configuration, with the spec's defaults and the source document it came from). Tests and
operators may pass a modified copy (`load(overrides=...)`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "supervision.yml"
SEVERITIES = ("high", "medium")
CLASSES = ("A", "B", "C", "D")


def _number(value: Any) -> Any:
    """YAML floats become exact decimals (thresholds are compared in SQL numeric)."""
    if isinstance(value, float):
        return Decimal(str(value))
    return value


@dataclass(frozen=True)
class PreparedTable:
    """A per-run temporary table the warning rules may read."""

    name: str
    sql: str


@dataclass(frozen=True)
class WarningRule:
    """One early-warning rule (监测预警规则)."""

    id: str
    name: str
    name_zh: str
    severity: str
    threshold: Any
    dispatch_threshold: int
    verifying_unit: str
    params: dict[str, Any]
    sql: str


@dataclass(frozen=True)
class Settings:
    """All of supervision.yml, validated."""

    raw: dict[str, Any]
    source_document: str
    published_statuses: tuple[str, ...]
    prefecture_digits: int
    prefecture_suffix: str
    high_risk_divisions: tuple[str, ...]
    plans: dict[str, Any]
    sandbox: dict[str, Any]
    white_list: dict[str, Any]
    urging: dict[str, Any]
    repair: dict[str, Any]
    prepared_tables: tuple[PreparedTable, ...]
    rules: tuple[WarningRule, ...] = field(default=())

    @property
    def sha256(self) -> str:
        """Fingerprint of the configuration a run used (kept with the run)."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()

    def member_unit_options(self, unit: str) -> dict[str, Any]:
        return dict((self.plans.get("member_units") or {}).get(unit) or {})

    def rule(self, rule_id: str) -> WarningRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read and validate the supervision configuration (optionally with overrides merged in)."""
    raw = yaml.safe_load((path or CONFIG_PATH).read_text(encoding="utf-8"))
    if overrides:
        raw = _merge(raw, overrides)
    return from_dict(raw)


def from_dict(raw: dict[str, Any]) -> Settings:
    """Validate a configuration dict and build the settings."""
    plans = raw["plans"]
    if plans.get("period") not in ("next_quarter", "current_quarter"):
        raise ValueError(f"plans.period must be next_quarter or current_quarter, not {plans.get('period')!r}")
    for c in CLASSES:
        if (
            not isinstance(plans["class_ratios_bp"].get(c), int)
            or not 0 <= plans["class_ratios_bp"][c] <= 10000
        ):
            raise ValueError(f"plans.class_ratios_bp.{c} must be an integer 0..10000")
    for unit, opts in (plans.get("member_units") or {}).items():
        mode = (opts or {}).get("ratio_mode", "class")
        if mode not in ("class", "flat"):
            raise ValueError(f"plans.member_units.{unit}.ratio_mode must be class or flat")
    w = raw["warnings"]
    default_unit = w["default_verifying_unit"]
    dispatch_defaults = w["dispatch_thresholds"]
    rules = []
    for r in w["rules"]:
        if r["severity"] not in SEVERITIES:
            raise ValueError(f"{r['id']}: severity must be one of {SEVERITIES}")
        rules.append(
            WarningRule(
                id=r["id"],
                name=r["name"],
                name_zh=r.get("name_zh", ""),
                severity=r["severity"],
                threshold=_number(r.get("threshold")),
                dispatch_threshold=int(r.get("dispatch_threshold") or dispatch_defaults[r["severity"]]),
                verifying_unit=r.get("verifying_unit") or default_unit,
                params={k: _number(v) for k, v in (r.get("params") or {}).items()},
                sql=r["sql"].strip().rstrip(";"),
            )
        )
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError("warning rule ids must be unique")
    pref = raw["prefecture"]
    return Settings(
        raw=raw,
        source_document=raw["source_document"],
        published_statuses=tuple(raw["published_statuses"]),
        prefecture_digits=int(pref["region_prefix_digits"]),
        prefecture_suffix=str(pref["suffix"]),
        high_risk_divisions=tuple(str(d) for d in raw["high_risk_divisions"]),
        plans=plans,
        sandbox=raw["sandbox"],
        white_list=raw["white_list"],
        urging=raw["urging"],
        repair=raw["repair"],
        prepared_tables=tuple(
            PreparedTable(t["name"], t["sql"].strip().rstrip(";")) for t in w["prepared_tables"]
        ),
        rules=tuple(rules),
    )
