"""A late delivery with 10 % bad rows: its good rows load, the raw gate blocks the re-publication,
and the published as_of stays exactly as it was. Runs after the clean e2e runs (file order)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from credit_risk import db

pytestmark = pytest.mark.e2e
AS_OF = dt.date(2025, 6, 30)  # the second as_of of the shared e2e run
DIGEST = """
    select count(*), md5(string_agg(uscc || system_code || total_score::text || risk_class, ',' order by uscc, system_code))
    from published.risk_classifications where as_of = %s
"""


def write_bad_delivery(landing, usccs: list[str]) -> tuple[int, int]:
    folder = landing / "tax" / "monthly_returns" / "20250715"
    folder.mkdir(parents=True)
    lines = ["record_id,uscc,period,declared,tax_paid,arrears_balance,is_abnormal_taxpayer,deleted"]
    bad = 0
    for i, uscc in enumerate(usccs):
        period = "2025-13" if i % 10 == 0 else "2025-06"  # every tenth row: a month that does not exist
        bad += period == "2025-13"
        lines.append(f"E2E-LATE-{i:05d},{uscc},{period},Y,100.00,0,N,N")
    data = ("\n".join(lines) + "\n").encode()
    (folder / "part-0001.csv").write_bytes(data)
    manifest = {
        "department": "tax",
        "feed": "monthly_returns",
        "schema_version": 1,
        "delivery_date": "2025-07-15",
        "mode": "incremental",
        "encoding": "UTF-8",
        "files": [{"name": "part-0001.csv", "rows": len(usccs), "sha256": hashlib.sha256(data).hexdigest()}],
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    return len(usccs), bad


def test_bad_delivery_blocks_publication_but_good_rows_stay(e2e):
    assert e2e.runs["second"].returncode == 0, "needs the clean second publication first"
    with db.connect() as c:
        before = c.execute(DIGEST, (AS_OF,)).fetchone()
        usccs = [r[0] for r in c.execute("select uscc from raw.registration order by uscc limit 300")]
    assert before[0] > 0
    rows, bad = write_bad_delivery(e2e.landing, usccs)

    run = e2e.cli("run", "--landing", str(e2e.landing), "--as-of", AS_OF.isoformat())
    assert run.returncode != 0, run.output[-4000:]
    assert "blocked" in run.output

    with db.connect() as c:
        after = c.execute(DIGEST, (AS_OF,)).fetchone()
        loaded, quarantined = c.execute(
            "select rows_loaded, rows_quarantined from ingest.deliveries "
            "where feed = 'monthly_returns' and delivery_date = '2025-07-15' and status = 'accepted'"
        ).fetchone()
        in_raw = c.execute(
            "select count(*) from raw.monthly_returns where record_id like 'E2E-LATE-%'"
        ).fetchone()[0]
        reasons = {
            r[0]
            for r in c.execute(
                "select reason from ingest.quarantine where file_name = 'part-0001.csv' "
                "and feed = 'monthly_returns' and raw_text like 'E2E-LATE-%'"
            )
        }
        ledger = c.execute(
            "select status from published.publications where as_of = %s order by publication_id", (AS_OF,)
        ).fetchall()
    assert after == before, "the published as_of is unchanged, row for row"
    assert (loaded, quarantined) == (rows - bad, bad)
    assert in_raw == rows - bad, "good rows of the bad delivery stay loaded"
    assert reasons == {"bad_month"}
    assert [s for (s,) in ledger][-1] == "blocked" and "published" in [s for (s,) in ledger]
