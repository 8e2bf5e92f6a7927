"""Gate reports, the publication result and the exception a blocked publication raises.

Reports travel between Airflow tasks as XCom (JSON): `GateReport.to_dict()` and
`GateReport.coerce()` turn them into plain dicts and back (dataclasses.asdict works too).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import asdict, dataclass, field
from typing import Any


def json_safe(obj: Any) -> Any:
    """A structure with dates as ISO strings, decimals as floats, tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [json_safe(v) for v in obj]
    if isinstance(obj, dt.date | dt.datetime):
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def describe(result: dict[str, Any]) -> str:
    """One line for one expectation result: `suite: column <= 0.01 (observed 0.05)`."""
    th = result.get("threshold") or {}
    lo, hi = th.get("min"), th.get("max")
    if lo is not None and hi is not None and lo == hi:
        bound = f"= {_fmt(lo)}"
    elif lo is not None and hi is not None:
        bound = f"in [{_fmt(lo)}, {_fmt(hi)}]"
    elif hi is not None:
        bound = f"<= {_fmt(hi)}"
    elif lo is not None:
        bound = f">= {_fmt(lo)}"
    else:
        # a check without bounds (publish preconditions, errors): say what was expected
        check = f"{result.get('expectation')}: {result.get('description') or ''}".rstrip(": ")
        return f"{result.get('suite')}: {check} (observed {_fmt(result.get('observed'))})"
    what = result.get("column") or result.get("expectation")
    return f"{result.get('suite')}: {what} {bound} (observed {_fmt(result.get('observed'))})"


@dataclass
class GateReport:
    """The outcome of one gate: every expectation of its suites, the Data Docs and the time.

    `results` holds one dict per expectation: suite, expectation (GX type), column,
    description, success, observed, threshold ({"min", "max"}).
    """

    name: str
    as_of: dt.date
    run_id: str
    success: bool
    results: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def failures(self) -> list[dict[str, Any]]:
        """The failed expectations."""
        return [r for r in self.results if not r.get("success")]

    def summary(self) -> str:
        """Readable text: the verdict, counts, the failing expectations, the Data Docs."""
        failed = self.failures()
        head = (
            f"gate {self.name} for {self.as_of}: {'PASSED' if self.success else 'FAILED'} "
            f"({len(self.results) - len(failed)}/{len(self.results)} expectations met, {self.seconds:.1f} s)"
        )
        lines = [head]
        for r in failed:
            lines.append("  FAILED " + describe(r))
        if self.success is False and not failed:
            lines.append(
                "  FAILED (no expectation results: " + str(self.meta.get("error", "gate did not run")) + ")"
            )
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (XCom, the ledger)."""
        return json_safe(asdict(self))

    @classmethod
    def coerce(cls, value: GateReport | dict[str, Any]) -> GateReport:
        """A report from itself or from its dict form."""
        if isinstance(value, GateReport):
            return value
        d = dict(value)
        as_of = d.get("as_of")
        return cls(
            name=str(d["name"]),
            as_of=as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)),
            run_id=str(d.get("run_id", "")),
            success=bool(d["success"]),
            results=list(d.get("results") or []),
            data_docs=d.get("data_docs"),
            seconds=float(d.get("seconds") or 0.0),
            meta=dict(d.get("meta") or {}),
        )


@dataclass
class PublicationResult:
    """What a successful publication did."""

    publication_id: int
    as_of: dt.date
    run_id: str
    status: str
    rows: dict[str, int]
    class_counts: dict[str, Any]
    seconds: float
    data_docs: dict[str, str | None]


class GateFailed(Exception):
    """Publication was blocked: a gate failed (the previously published state is unchanged)."""

    def __init__(self, message: str, publication_id: int | None = None, failures: list[str] | None = None):
        super().__init__(message)
        self.publication_id = publication_id
        self.failures = failures or []


def dbt_report(as_of: dt.date, run_id: str, dbt_results: dict[str, Any] | None) -> GateReport:
    """dbt's own test results as a gate.

    Accepted forms: dbt's `run_results.json` (a `results` list of nodes with `unique_id`
    and `status`), a summary `{"passed": n, "failed": n, "failing": [names]}`, or the
    DAG's task-state summary `{"success": bool, "tasks": n, "failed_tasks": [names]}`.
    Tests with status pass/warn pass; fail, error and skipped (not verified) fail, and so
    does any model or seed that errored.
    """
    results: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    if dbt_results is None:
        return GateReport("dbt_tests", as_of, run_id, False, [], None, 0.0, {"error": "no dbt results"})
    if isinstance(dbt_results.get("results"), list):
        counts: dict[str, int] = {}
        failing: list[str] = []
        for node in dbt_results["results"]:
            uid = str(node.get("unique_id", ""))
            status = str(node.get("status", "")).lower()
            is_test = uid.startswith(("test.", "unit_test."))
            if is_test:
                counts[status] = counts.get(status, 0) + 1
            if (is_test and status not in ("pass", "warn", "success")) or (
                not is_test and status in ("error", "fail")
            ):
                failing.append(f"{uid} ({status})")
        passed = counts.get("pass", 0) + counts.get("warn", 0) + counts.get("success", 0)
        failed = len(failing)
        meta = {"status_counts": counts, "elapsed_time": dbt_results.get("elapsed_time")}
    elif "passed" in dbt_results or "failed" in dbt_results:
        passed = int(dbt_results.get("passed") or 0)
        failed = int(dbt_results.get("failed") or 0)
        failing = [str(x) for x in dbt_results.get("failing") or dbt_results.get("failed_tests") or []]
    elif "success" in dbt_results:
        failing = [str(x) for x in dbt_results.get("failed_tasks") or []]
        total = int(dbt_results.get("tasks") or 0)
        failed = len(failing) or (0 if dbt_results["success"] else 1)
        passed = max(total - failed, 0)
        if not dbt_results["success"] and not failing:
            failing = ["dbt reported failure" if total else "no dbt task ran"]
    else:
        failed, passed, failing = 1, 0, [f"unrecognised dbt results: keys {sorted(dbt_results)}"]
    results.append(
        {
            "suite": "dbt",
            "expectation": "dbt_tests_pass",
            "column": "failed",
            "description": "every dbt test of the build passed",
            "success": failed == 0,
            "observed": failed,
            "threshold": {"min": 0, "max": 0},
            "unexpected": failing[:50],
        }
    )
    meta.update({"passed": passed, "failed": failed, "failing": failing})
    seconds = float(dbt_results.get("elapsed_time") or dbt_results.get("seconds") or 0.0)
    return GateReport("dbt_tests", as_of, run_id, failed == 0, results, None, seconds, meta)
