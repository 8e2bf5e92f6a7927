"""A loader killed with SIGKILL in the middle of its COPY leaves nothing half-loaded; the rerun
completes the delivery and the warehouse ends exactly as after an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from loader_fixtures import make_uscc

from credit_risk.loader import accounting_violations, load_delivery

ROWS = 300_000
CONTENT = (
    "record_id, uscc, period, declared, tax_paid, arrears_balance, is_abnormal_taxpayer, deleted,"
    " _delivery_date, _file_name, _line_no"
)


def _big_delivery(landing) -> Path:
    rng = random.Random(1)
    codes = [make_uscc(rng) for _ in range(500)]
    header = "record_id,uscc,period,declared,tax_paid,arrears_balance,is_abnormal_taxpayer\n"
    rows = [
        f"M{i},{codes[i % 500]},2024-{1 + i % 12:02d},Y,{i % 9973}.{i % 100:02d},{i % 7},N\n"
        for i in range(ROWS)
    ]
    rows[1234] = "M1234,not-a-uscc,2024-01,Y,1,0,N\n"  # one quarantined row, compared too
    half = ROWS // 2
    return landing.deliver(
        "tax",
        "monthly_returns",
        "20250131",
        {"part-0001.csv": header + "".join(rows[:half]), "part-0002.csv.gz": header + "".join(rows[half:])},
        rows={"part-0001.csv": half, "part-0002.csv.gz": ROWS - half},
    )


def _state(conn: psycopg.Connection) -> tuple:
    raw = conn.execute(
        f"select count(*), md5(string_agg(t::text, '|' order by _file_name, _line_no))"
        f" from (select {CONTENT} from raw.monthly_returns) t"
    ).fetchone()
    ledger = conn.execute(
        "select status, rows_manifest, rows_loaded, rows_quarantined from ingest.deliveries order by delivery_id"
    ).fetchall()
    quarantine = conn.execute(
        "select file_name, line_no, reason, raw_text from ingest.quarantine order by 1, 2"
    ).fetchall()
    partitions = conn.execute(
        "select count(*) from pg_inherits where inhparent = 'raw.monthly_returns'::regclass"
    ).fetchone()
    return raw, ledger, quarantine, partitions


def _reset(conn: psycopg.Connection) -> None:
    """Back to an empty warehouse (cheaper than a second database)."""
    for (part,) in conn.execute(
        "select c.oid::regclass::text from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'raw.monthly_returns'::regclass and c.relname <> 'monthly_returns__default'"
    ).fetchall():
        conn.execute(f"drop table {part}")
    conn.execute(
        "truncate ingest.delivery_files, ingest.deliveries, ingest.quarantine, ingest.reports, ingest.snapshot_state"
    )
    conn.commit()


def test_kill_9_mid_copy_then_rerun_equals_uninterrupted_run(landing, loader_db):
    folder = _big_delivery(landing)
    with psycopg.connect(loader_db) as conn:  # the uninterrupted reference run
        ref = load_delivery(folder, conn)
        assert (ref.status, ref.rows_loaded, ref.rows_quarantined) == ("accepted", ROWS - 1, 1)
        reference = _state(conn)
        _reset(conn)
        assert _state(conn)[0][0] == 0
    code = (
        "import sys; from pathlib import Path; import psycopg;"
        "from credit_risk.loader import load_delivery;"
        "load_delivery(Path(sys.argv[1]), psycopg.connect(sys.argv[2]))"
    )
    with psycopg.connect(loader_db, autocommit=True) as watch:
        proc = subprocess.Popen([sys.executable, "-c", code, str(folder), loader_db])
        try:
            backend = None
            deadline = time.monotonic() + 120
            while backend is None and time.monotonic() < deadline and proc.poll() is None:
                row = watch.execute(
                    "select pid from pg_stat_activity where datname = current_database() and state = 'active'"
                    r" and query ilike 'copy %%monthly\_returns\_\_d%%'"
                ).fetchone()
                backend = row[0] if row else None
                time.sleep(0.02)
            assert backend is not None, "the loader's COPY was never seen running"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        # the server notices the dead client and rolls the transaction back
        deadline = time.monotonic() + 60
        while watch.execute("select 1 from pg_stat_activity where pid = %s", (backend,)).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        raw, ledger, quarantine, partitions = _state(watch)
        assert raw[0] == 0 and ledger == [] and quarantine == [] and partitions == (1,)  # only the default

    with psycopg.connect(loader_db) as conn:
        again = load_delivery(folder, conn)
        assert (again.status, again.rows_loaded, again.rows_quarantined) == ("accepted", ROWS - 1, 1)
        assert accounting_violations(conn) == []
        assert _state(conn) == reference
