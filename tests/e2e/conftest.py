"""One end-to-end pipeline run shared by every e2e test (it is the expensive part).

Real parts only: the generator writes a tiny landing zone, then the `credit-risk run` CLI runs the
four DAGs through Airflow's task execution (`dag.test()`), with a real `dbt build`, real GX
validation and a real PostgreSQL. Two as_of are run (the second after `generate --extend`).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FIRST_AS_OF = dt.date(2025, 5, 31)
SECOND_AS_OF = dt.date(2025, 6, 30)
CLI = [sys.executable, "-m", "credit_risk.cli"]


@dataclass
class Run:
    args: list[str]
    returncode: int
    output: str


@dataclass
class E2E:
    landing: Path
    truth: Path
    runs: dict[str, Run]
    env: dict[str, str]

    def cli(self, *args: str, check: bool = False) -> Run:
        return cli(self.env, *args, check=check)


def cli(env: dict[str, str], *args: str, check: bool = False) -> Run:
    p = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=1500)
    run = Run(list(args), p.returncode, p.stdout + p.stderr)
    if check and p.returncode != 0:
        raise AssertionError(f"credit-risk {' '.join(args)} failed ({p.returncode}):\n{run.output[-6000:]}")
    return run


@pytest.fixture(scope="session")
def e2e(fresh_database, tmp_path_factory) -> E2E:
    fresh_database("e2e")
    env = {**os.environ, "CREDIT_RISK_EXPORT_ROOT": str(tmp_path_factory.mktemp("exports"))}
    base = tmp_path_factory.mktemp("e2e")
    landing = base / "landing"
    runs: dict[str, Run] = {}
    runs["generate"] = cli(
        env,
        "generate",
        "--out",
        str(landing),
        "--scale",
        "tiny",
        "--seed",
        "7",
        "--through",
        "2025-05",
        check=True,
    )
    runs["first"] = cli(env, "run", "--landing", str(landing), "--as-of", FIRST_AS_OF.isoformat())
    runs["extend"] = cli(env, "generate", "--extend", str(landing), check=True)
    # 30 June switches the annual-report year: the class shares move past the 2-point drift bound
    # (the gate blocks it, see test_gates_e2e); a regulator approves the known seasonal move.
    runs["approve"] = cli(
        env, "approve", "--as-of", SECOND_AS_OF.isoformat(), "--reason", "report-year switch", check=True
    )
    runs["second"] = cli(env, "run", "--landing", str(landing), "--as-of", SECOND_AS_OF.isoformat())
    return E2E(landing, Path(str(landing) + ".truth"), runs, env)
