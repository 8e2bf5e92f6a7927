"""`make demo`: a small generated landing zone through the whole pipeline, then where to look."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time

from credit_risk import config, db

DEMO_SCALE = os.environ.get("CREDIT_RISK_DEMO_SCALE", "small")
THROUGH = "2025-06"
AS_OF = dt.date(2025, 6, 30)


def main() -> int:
    os.environ.setdefault("CREDIT_RISK_DEMO", "1")  # a local HMAC key is generated (git-ignored)
    t0 = time.monotonic()
    url = db.start(quiet=True)
    print(f"warehouse: {url.url}")
    landing = config.home() / "demo" / "landing"
    from credit_risk import generator

    if not (landing.exists() and any(landing.iterdir())):
        if landing.exists():
            shutil.rmtree(landing)
        print(f"generating a {DEMO_SCALE} landing zone in {landing} …", flush=True)
        generator.generate(landing, scale=DEMO_SCALE, seed=20250630, through=THROUGH, defects=False)
    else:
        print(f"reusing the landing zone in {landing}")
    from credit_risk import runner

    rc = runner.run_pipeline(landing, AS_OF)
    print(summary_text(AS_OF))
    print(f"\nmake demo finished in {time.monotonic() - t0:.0f} s with exit code {rc}")
    return rc


def summary_text(as_of: dt.date) -> str:
    from credit_risk import airflow_env

    lines = ["", "=" * 72, "Supervision and exports", "=" * 72]
    try:
        from credit_risk import supervision

        lines.append(supervision.summary(as_of))
    except Exception as e:  # a summary never hides the run's exit code
        lines.append(f"(supervision summary unavailable: {e})")
    try:
        from credit_risk import exports

        lines.append(exports.summary(as_of))
    except Exception as e:
        lines.append(f"(exports summary unavailable: {e})")
    env = airflow_env.project_env()
    lines += [
        "",
        "=" * 72,
        "Where to look",
        "=" * 72,
        f"SQL (analysts read schema published):  psql '{db.warehouse_url().url}'",
        "    select * from published.risk_classifications limit 10;",
        "    select * from published.publications order by publication_id desc;",
        f"exports:        {config.export_root()}",
        f"GX Data Docs:   {config.home() / 'gx'}",
        "dbt docs:       credit-risk env -- dbt docs generate --project-dir dbt_project (then dbt docs serve)",
        f"Airflow UI:     make up  ->  {env['AIRFLOW__API__BASE_URL']}  (make down to stop)",
    ]
    return "\n".join(lines)
