"""Gate thresholds: `plugins/credit_risk/config/gates.yml`, with environment overrides.

An operator may change one threshold for one run without editing the file:
`CREDIT_RISK_GATES__RAW__QUARANTINE_RATE_MAX=0.02` sets `raw.quarantine_rate_max`
(path segments separated by `__`, case-insensitive, value parsed as YAML).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "gates.yml"
ENV_PREFIX = "CREDIT_RISK_GATES__"


@dataclass(frozen=True)
class GateSettings:
    """All of gates.yml (after overrides), typed."""

    raw: dict[str, Any]
    quarantine_rate_max: float
    orphan_rate_max: float
    per_feed: dict[str, dict[str, float]]
    date_min: dt.date
    date_max: dt.date
    freshness_feeds: tuple[str, ...]
    score_min: float
    score_max: float
    drift_max_points: float
    required_gates: tuple[str, ...]
    require_dbt_results: bool
    lock_timeout_seconds: int

    def feed_limit(self, feed: str, key: str) -> float:
        """A per-feed threshold (`quarantine_rate_max`, `orphan_rate_max`), else the default."""
        override = self.per_feed.get(feed, {})
        if key in override:
            return float(override[key])
        return float(getattr(self, key))


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        node = raw
        for part in path[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[path[-1]] = yaml.safe_load(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> GateSettings:
    """Read gates.yml and apply `CREDIT_RISK_GATES__…` overrides from the environment."""
    raw: dict[str, Any] = yaml.safe_load((path or CONFIG_PATH).read_text()) or {}
    raw = copy.deepcopy(raw)
    _apply_env(raw, os.environ if environ is None else environ)
    r, o, p = raw.get("raw", {}), raw.get("output", {}), raw.get("publish", {})
    per_feed = {str(k): dict(v or {}) for k, v in (r.get("per_feed") or {}).items()}
    settings = GateSettings(
        raw=raw,
        quarantine_rate_max=float(r["quarantine_rate_max"]),
        orphan_rate_max=float(r["orphan_rate_max"]),
        per_feed=per_feed,
        date_min=_date(r["date_min"]),
        date_max=_date(r["date_max"]),
        freshness_feeds=tuple(r.get("freshness_feeds") or ()),
        score_min=float(o["score_min"]),
        score_max=float(o["score_max"]),
        drift_max_points=float(o["drift_max_points"]),
        required_gates=tuple(p.get("required_gates") or ()),
        require_dbt_results=bool(p.get("require_dbt_results", False)),
        lock_timeout_seconds=int(p.get("lock_timeout_seconds", 900)),
    )
    for key in ("quarantine_rate_max", "orphan_rate_max"):
        if not 0 <= getattr(settings, key) <= 1:
            raise ValueError(f"gates.yml raw.{key} must be a rate between 0 and 1")
    if settings.date_min >= settings.date_max:
        raise ValueError("gates.yml raw.date_min must be before raw.date_max")
    return settings
