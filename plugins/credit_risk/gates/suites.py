"""Suites as code: what a module in `expectations/` returns, and how it is found.

Each module in `<project>/expectations/` declares `GATE = "raw"` or `"output"` and a
function `suites(ctx: SuiteContext) -> list[SuiteSpec]`. A `SuiteSpec` is one GX
expectation suite over one SQL query asset. The queries return a few rows of aggregates
(one row, or one row per subject with a `subject` column naming it) so that GX checks
a handful of values that PostgreSQL computed in one pass, instead of rescanning millions
of rows per expectation (STYLE.md: four column expectations on 5 M rows took 12 s).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from credit_risk import config
from credit_risk.gates.reference import Reference
from credit_risk.gates.settings import GateSettings

EXPECTATIONS_DIR = config.PROJECT_ROOT / "expectations"
# Long-form assets name each row in this column; failing rows are reported by it.
SUBJECT = "subject"


@dataclass
class SuiteSpec:
    """One expectation suite over one query asset."""

    name: str  # e.g. "raw.penalties"; also the asset name
    query: str  # SELECT (a WITH … is wrapped by the runner); no `%`, no `:name` binds
    expectations: list[Any]  # great_expectations Expectation objects
    description: str = ""


@dataclass(frozen=True)
class SuiteContext:
    """What a suite module may use to build its queries and bounds."""

    gate: str
    as_of: dt.date
    settings: GateSettings
    reference: Reference
    # raw gate: the accepted deliveries with since < delivery_id <= upto are "loaded since
    # the previous publication"
    since_delivery_id: int = 0
    upto_delivery_id: int = 0
    # output gate: the as_of the drift is measured against, and whether drift is approved
    previous_as_of: dt.date | None = None
    previous_publication_id: int | None = None
    drift_approval: dict[str, Any] | None = None
    existing_tables: frozenset[str] = field(default_factory=frozenset)

    @staticmethod
    def date(d: dt.date) -> str:
        """A SQL date literal."""
        return f"date '{d.isoformat()}'"

    @property
    def as_of_sql(self) -> str:
        return self.date(self.as_of)

    @property
    def as_of_month_sql(self) -> str:
        """First day of the as_of month, as a SQL date literal (monthly periods)."""
        return self.date(self.as_of.replace(day=1))

    def has_table(self, qualified: str) -> bool:
        return qualified in self.existing_tables


def _gx():
    from credit_risk.gates.runner import gx_module

    return gx_module()


def zero(column: str, description: str) -> Any:
    """The one-row aggregate `column` is 0 (a count of violations)."""
    return _gx().expectations.ExpectColumnMaxToBeBetween(
        column=column, min_value=0, max_value=0, description=f"{description} ({column} = 0)"
    )


def at_most(column: str, limit: float, description: str) -> Any:
    """The one-row aggregate `column` is at most `limit` (observed value reported)."""
    return _gx().expectations.ExpectColumnMaxToBeBetween(
        column=column, max_value=limit, description=f"{description} ({column} <= {limit:g})"
    )


def at_least(column: str, limit: float, description: str) -> Any:
    """The one-row aggregate `column` is at least `limit`."""
    return _gx().expectations.ExpectColumnMinToBeBetween(
        column=column, min_value=limit, description=f"{description} ({column} >= {limit:g})"
    )


def each_between(column: str, low: float | None, high: float | None, description: str) -> Any:
    """Every row's `column` lies in [low, high]; failing rows are reported by `subject`."""
    if low is not None and high is not None:
        bound = f"{column} = {low:g}" if low == high else f"{column} in [{low:g}, {high:g}]"
    elif high is not None:
        bound = f"{column} <= {high:g}"
    else:
        bound = f"{column} >= {low:g}" if low is not None else f"{column} any"
    return _gx().expectations.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, description=f"{description} ({bound} for every row)"
    )


def each_not_null(column: str, description: str) -> Any:
    """No row's `column` is null (an aggregate over an empty table is null)."""
    return _gx().expectations.ExpectColumnValuesToNotBeNull(column=column, description=description)


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    """A SQL list of string literals: ('a', 'b')."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def sql_array(values: tuple[str, ...] | list[str]) -> str:
    """A SQL text[] literal: array['a', 'b']::text[]."""
    return "array[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def load_modules(gate: str, directory: Path | None = None) -> list[ModuleType]:
    """The suite modules of one gate, in file-name order."""
    d = directory or EXPECTATIONS_DIR
    out = []
    for path in sorted(d.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"credit_risk_expectations.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load suite module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        if getattr(module, "GATE", None) == gate:
            out.append(module)
    if not out:
        raise RuntimeError(f"no expectation suites for gate {gate!r} in {d}")
    return out


def build(ctx: SuiteContext, directory: Path | None = None) -> list[SuiteSpec]:
    """Every suite of the context's gate."""
    specs: list[SuiteSpec] = []
    for module in load_modules(ctx.gate, directory):
        specs.extend(module.suites(ctx))
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"duplicate suite names: {sorted(dupes)}")
    return specs
