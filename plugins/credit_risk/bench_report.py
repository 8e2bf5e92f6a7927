"""Render the measured figures of `benchmarks/results/*.json` as Markdown tables.

`python -m credit_risk.bench_report` prints the tables that BENCHMARKS.md quotes, so the document
is regenerated from the results files, never typed by hand.
"""

from __future__ import annotations

import json
import sys

from credit_risk.bench import RESULTS_DIR


def _load(scale: str) -> dict | None:
    for name in (f"{scale}.json", f"{scale}.partial.json"):
        p = RESULTS_DIR / name
        if p.exists():
            return json.loads(p.read_text())
    return None


def stage_table(res: dict) -> str:
    rows = [
        "| stage | wall (s) | Airflow DAG (s) | peak RSS of largest process (MiB) | exit |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in res["stages"]:
        dag = ", ".join(f"{k} {v:.0f}" for k, v in s.get("dag_seconds", {}).items()) or "–"
        rows.append(
            f"| {s['stage']} | {s['seconds']:.1f} | {dag} | {s['peak_rss_mib']} | {s['returncode']} |"
        )
    return "\n".join(rows)


def baseline_table(res: dict) -> str:
    b = res.get("baselines", {})
    out = []
    copy = b.get("raw_copy")
    if copy:
        out.append(
            f"* raw server-side `COPY` into UNLOGGED typed tables: {copy['rows']:,} rows in {copy['seconds']:.1f} s "
            f"= **{copy['rows_per_s']:,} rows/s**"
        )
    floor = b.get("group_by_floor")
    if floor:
        out.append(
            f"* `SELECT uscc, count(*) … GROUP BY uscc` over every raw feed: **{floor['seconds']:.1f} s**"
        )
    return "\n".join(out)


def main() -> int:
    for scale in ("medium", "full"):
        res = _load(scale)
        if not res:
            continue
        print(
            f"### {scale} ({'partial: ' if res.get('partial') else ''}commit {res.get('commit')}, {res.get('date')})\n"
        )
        if "headline" in res:
            print("```\n" + json.dumps(res["headline"], indent=2) + "\n```\n")
        print(stage_table(res) + "\n")
        print(baseline_table(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
