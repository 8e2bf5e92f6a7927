"""Differentiated supervision (差异化监管) on the published results of one as_of.

shared/spec/supervision.md §1–§6, configured by `credit_risk/config/supervision.yml`:

* `plans` — double-random spot-check plans (双随机、一公开, 一业一查) with seeds, strata, joint
  tasks and inspectors; `plans.verify(plan_id)` re-draws a published plan as an auditor would;
* `early_warning` — the 22 warning rules, warning batches and dispatch batches;
* `memberships` — sandbox pool (沙盒监管) and white list (白名单) with membership history;
* `urging` — annual-report urging lists (年报督促);
* `repair` — credit-repair queue and guidance list (信用修复).

Public API: `run_all(as_of) -> dict`, `summary(as_of) -> str`, `ensure_schema(conn)`.
Reads only `published.*` and `staging.*`; writes schema `supervision`.
"""

from __future__ import annotations

from credit_risk.supervision.context import NotPublishedError
from credit_risk.supervision.report import summary
from credit_risk.supervision.runner import run_all
from credit_risk.supervision.schema import ensure_schema

__all__ = ["NotPublishedError", "ensure_schema", "run_all", "summary"]
