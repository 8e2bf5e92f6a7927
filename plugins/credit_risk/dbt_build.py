"""Run dbt in process (dbtRunner) for one as_of and summarise the results.

In-process invocation avoids paying dbt's ~5 s interpreter and adapter start-up
for every call; the Airflow DAG (cosmos) and the batch CLI both come through here
or through cosmos' own DBT_RUNNER invocation mode.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from credit_risk import config, db

log = logging.getLogger(__name__)


def _env() -> None:
    os.environ.update(db.dbt_env())
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")


def invoke(args: list[str], as_of: dt.date | None = None) -> dict[str, Any]:
    """Run `dbt <args>` for `as_of` in process. Returns a summary dict:
    success, counts by status, failures [(node, status, message)], seconds."""
    from dbt.cli.main import dbtRunner

    _env()
    if db.least_privilege() and args[0] not in ("parse", "ls", "list"):
        # dbt connects as the transformer role: it must exist with its grants and ownerships
        from credit_risk import security

        security.setup()
    project = config.dbt_project_dir()
    full = [*args, "--project-dir", str(project), "--profiles-dir", str(project)]
    if args[0] != "debug":  # dbt debug takes no target/log path
        full += ["--target-path", str(target_path()), "--log-path", str(config.home() / "dbt_logs")]
    if as_of is not None:
        full += ["--vars", json.dumps({"as_of": as_of.isoformat()})]
    t0 = time.monotonic()
    res = dbtRunner().invoke(full)
    seconds = time.monotonic() - t0
    counts: dict[str, int] = {}
    failures: list[dict[str, str]] = []
    tests_failed: list[str] = []
    results = getattr(res.result, "results", None) or []
    for r in results:
        status = str(getattr(r, "status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
        node = getattr(r, "node", None)
        name = getattr(node, "unique_id", "?")
        if status in ("error", "fail", "runtime error"):
            failures.append({"node": name, "status": status, "message": str(getattr(r, "message", ""))[:500]})
            if str(getattr(node, "resource_type", "")).endswith("test"):
                tests_failed.append(name)
    summary = {
        "command": " ".join(args),
        "success": bool(res.success),
        "counts": counts,
        "failures": failures,
        "tests_failed": tests_failed,
        "seconds": round(seconds, 2),
        "exception": str(res.exception) if res.exception else None,
    }
    log.info("dbt %s: success=%s counts=%s in %.1fs", " ".join(args), res.success, counts, seconds)
    for f in failures:
        log.error("dbt %s %s: %s", f["status"], f["node"], f["message"])
    return summary


def target_path() -> Path:
    p = config.home() / "dbt_target"
    p.mkdir(parents=True, exist_ok=True)
    return p


def manifest_path() -> Path:
    return target_path() / "manifest.json"


def ensure_manifest(force: bool = False) -> Path:
    """`dbt parse` once so DAG parsing (cosmos) reads a manifest instead of calling dbt."""
    m = manifest_path()
    if force or not m.exists():
        res = invoke(["parse", "--quiet"])
        if not res["success"]:
            raise RuntimeError(f"dbt parse failed: {res}")
    return m


def build(as_of: dt.date, select: str | None = None, exclude: str | None = None) -> dict[str, Any]:
    """`dbt build` (seeds, models, tests in DAG order) for one as_of."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
    return invoke(args, as_of)
