"""Write-audit-publish against a real PostgreSQL: every gate blocks, nothing published changes.

The module's world has May 2025 published and June 2025 loaded and built. Each break test
damages the world the way a bad delivery or a bad build would, runs the gate it concerns,
checks the expectation that must catch it, checks that `publish` raises, records a block
and leaves every published row as it was, then repairs the world.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest
from gates_world import (
    DBT_OK,
    JUNE,
    LEVEL2,
    MAY,
    add_delivery,
    build_audit,
    published_state,
    remove_delivery,
    restore_audit,
    save_audit,
    shift_classes,
)

from credit_risk.gates import (
    GateFailed,
    GateReport,
    ensure_published_schema,
    publish,
    run_output_gates,
    run_raw_gates,
)


def _ledger(conn, publication_id: int) -> dict:
    cur = conn.execute("select * from published.publications where publication_id = %s", (publication_id,))
    names = [d.name for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def _failed(report: GateReport) -> set[tuple[str, str]]:
    """(suite, column) of every failed expectation, and (suite, check) of every failing row
    of a long-form suite (subject `<system>/<check>` or `<check>`)."""
    out = set()
    for r in report.failures():
        out.add((r["suite"], r["column"]))
        if isinstance(r["observed"], list):
            out |= {(r["suite"], str(row.get("subject", "")).split("/")[-1]) for row in r["observed"]}
    return out


def _assert_blocked(world, as_of, run_id, reports, dbt=DBT_OK, expect: tuple[str, str] | None = None) -> dict:
    """publish() raises, the ledger holds the block, published.* is unchanged row for row."""
    before = published_state(world.conn)
    with pytest.raises(GateFailed) as info:
        publish.publish(as_of, run_id, reports, dbt, "pytest")
    assert published_state(world.conn) == before
    entry = _ledger(world.conn, info.value.publication_id)
    assert entry["status"] == "blocked" and entry["run_id"] == run_id and entry["as_of"] == as_of
    assert entry["failed_expectations"], "a block names its failing expectations"
    if expect:
        assert any(expect[0] in f and expect[1] in f for f in entry["failed_expectations"]), entry[
            "failed_expectations"
        ]
        assert expect[1] in str(info.value)
    return entry


# ------------------------------------------------------------------------------- clean run


def test_clean_run_publishes_and_records_it(world):
    conn = world.conn
    assert world.raw_june.success, world.raw_june.summary()
    assert world.output_june.success, world.output_june.summary()
    result = publish.publish(
        JUNE, world.raw_june.run_id, [world.raw_june, world.output_june], DBT_OK, "pytest"
    )
    assert result.status == "published"
    assert result.rows == {
        "indicator_scores": 221,
        "risk_classifications": 221,
        "credit_evaluations": 101,
        "level2_scores": 221 + 101,  # one row per entity and system (IND entities also in IBE)
    }
    for table, n in result.rows.items():
        got = conn.execute(
            f"select count(*), count(distinct publication_id), min(publication_id) from published.{table} "
            "where as_of = %s",
            (JUNE,),
        ).fetchone()
        assert got == (n, 1, result.publication_id)
    # May is still there, untouched by June's publication
    may = conn.execute(
        "select count(*) from published.risk_classifications where as_of = %s", (MAY,)
    ).fetchone()
    assert may == (221,)
    entry = _ledger(conn, result.publication_id)
    assert entry["status"] == "published" and entry["triggered_by"] == "pytest"
    assert entry["row_counts"] == result.rows
    assert entry["class_counts"]["ENT"] == {"A": 70, "B": 20, "C": 7, "D": 3}
    assert entry["delivery_id_max"] == world.raw_june.meta["delivery_id_max"]
    gates = {g["name"]: g for g in entry["gate_results"]}
    assert set(gates) == {"raw", "output", "dbt_tests"} and all(g["success"] for g in gates.values())
    assert gates["raw"]["results"] and all("observed" in r for r in gates["raw"]["results"])
    for path in entry["data_docs"].values():
        assert Path(path).is_file() and "<html" in Path(path).read_text()[:2000].lower()
    assert entry["finished_at"] >= entry["started_at"]


# ----------------------------------------------------------------------------- raw gates


def _raw_break(world, what: str, suite: str, column: str, make, also: list[tuple[str, str]] = ()) -> None:
    ids = make(world.conn)
    try:
        rid = world.run_id(what)
        raw = run_raw_gates(JUNE, rid)
        assert not raw.success
        assert {(suite, column), *also} <= _failed(raw), raw.summary()
        entry = _assert_blocked(world, JUNE, rid, [raw, world.output_june], expect=(suite, column))
        assert Path(entry["data_docs"]["raw"]).is_file()
    finally:
        for did in ids:
            remove_delivery(world.conn, did)


def test_accounting_identity_blocks(world):
    def make(conn):
        bad_manifest = add_delivery(
            conn, "penalties", dt.date(2025, 7, 7), dt.date(2025, 6, 1), 20, manifest_extra=1
        )
        # the ledger says 20 rows were loaded, the raw table holds 15 of them
        rows_lost = add_delivery(conn, "complaints", dt.date(2025, 7, 7), dt.date(2025, 6, 1), 20)
        conn.execute("delete from raw.complaints where _delivery_id = %s and _line_no > 16", (rows_lost,))
        return [bad_manifest, rows_lost]

    _raw_break(
        world,
        "accounting",
        "raw.penalties",
        "accounting_violations",
        make,
        also=[("raw.complaints", "raw_rows_not_in_ledger")],
    )


def test_quarantine_rate_blocks(world):
    def make(conn):
        return [add_delivery(conn, "penalties", dt.date(2025, 7, 7), dt.date(2025, 6, 1), 200, quarantined=5)]

    _raw_break(world, "quarantine", "raw.penalties", "quarantine_rate", make)


def test_orphan_rate_blocks(world):
    def make(conn):
        return [add_delivery(conn, "honors", dt.date(2025, 7, 7), dt.date(2025, 6, 1), 50, orphans=10)]

    _raw_break(world, "orphans", "raw.honors", "orphan_rate", make)


def test_values_of_loaded_rows_block(world):
    def make(conn):
        bad = {"severity": "'huge'", "decided_on": "date '1900-01-01'"}
        return [
            add_delivery(conn, "penalties", dt.date(2025, 7, 7), dt.date(2025, 6, 1), 5, overrides=bad),
            # a legal_rep change whose before_value reached the warehouse in clear
            add_delivery(conn, "registration_changes", dt.date(2025, 7, 7), dt.date(2025, 6, 1), 3),
        ]

    ids = make(world.conn)
    try:
        rid = world.run_id("values")
        raw = run_raw_gates(JUNE, rid)
        failed = _failed(raw)
        assert {
            ("raw.penalties", "bad_severity"),
            ("raw.penalties", "absurd_decided_on"),
            ("raw.registration_changes", "clear_before_value"),
            ("raw.registration_changes", "clear_after_value"),
        } <= failed, raw.summary()
        _assert_blocked(world, JUNE, rid, [raw, world.output_june], expect=("raw.penalties", "bad_severity"))
    finally:
        for did in ids:
            remove_delivery(world.conn, did)


def test_freshness_blocks_when_no_delivery_holds_the_as_of_month(world):
    conn = world.conn
    # the June utility bills now claim to be May's: no accepted delivery holds period 2025-06
    moved = conn.execute(
        "update raw.utility_bills set period = date '2025-05-01' where period = date '2025-06-01'"
    ).rowcount
    assert moved > 0
    try:
        rid = world.run_id("freshness")
        raw = run_raw_gates(JUNE, rid)
        assert ("raw.utility_bills", "as_of_month_delivered") in _failed(raw), raw.summary()
        assert ("raw.monthly_returns", "as_of_month_delivered") not in _failed(raw)
        _assert_blocked(
            world, JUNE, rid, [raw, world.output_june], expect=("raw.utility_bills", "as_of_month_delivered")
        )
    finally:
        conn.execute(
            "update raw.utility_bills set period = date '2025-06-01' where _delivery_date = date '2025-07-05'"
        )


# -------------------------------------------------------------------------- output gates

OUTPUT_BREAKS = {
    "coverage": (
        "delete from audit.risk_classifications where uscc = (select min(uscc) from audit.risk_classifications)",
        ("output.coverage", "classified_minus_scored"),
    ),
    "coverage_keys": (
        # same number of rows, but one class belongs to an entity that was not scored
        "update audit.risk_classifications set uscc = '999999999999999999' where uscc = (select min(uscc) "
        "from audit.risk_classifications)",
        ("output.coverage", "classified_keys_differ_from_scored"),
    ),
    "indicator_range": (
        "update audit.indicator_scores set i07 = 101 where uscc = (select min(uscc) from audit.indicator_scores)",
        ("output.indicator_scores", "max_score"),
    ),
    "total_range": (
        "update audit.risk_classifications set total_score = -1 where system_code = 'IND' and risk_class = 'B'",
        ("output.risk_classifications", "total_score"),
    ),
    "class_value": (
        "update audit.risk_classifications set risk_class = 'E' where uscc = (select max(uscc) "
        "from audit.risk_classifications where system_code = 'COOP')",
        ("output.risk_classifications", "bad_risk_class"),
    ),
    "grade_value": (
        "update audit.credit_evaluations set credit_grade = 'AAAA' where uscc = (select min(uscc) "
        "from audit.credit_evaluations)",
        ("output.credit_evaluations", "bad_credit_grade"),
    ),
    "explanation": (
        "update audit.risk_classifications set top_losses = array['I01', 'I02'] where uscc = (select min(uscc) "
        "from audit.risk_classifications)",
        ("output.risk_classifications", "incomplete_top_losses"),
    ),
    "fired_rules": (
        "update audit.credit_evaluations set fired_rules = null where uscc = (select min(uscc) "
        "from audit.credit_evaluations)",
        ("output.credit_evaluations", "null_fired_rules"),
    ),
    "level2": (
        "delete from audit.level2_scores where system_code = 'IBE' and uscc = "
        "(select min(uscc) from audit.credit_evaluations)",
        ("output.level2_scores", "rows_missing_or_extra"),
    ),
    "level2_keys": (
        # same number of rows, but one belongs to an entity the system did not score
        "update audit.level2_scores set uscc = '999999999999999999' where system_code = 'COOP' and uscc = "
        "(select min(uscc) from audit.risk_classifications where system_code = 'COOP')",
        ("output.level2_scores", "keys_differ_from_entities"),
    ),
    "level2_range": (
        "update audit.level2_scores set reg3 = 100.5 where system_code = 'ENT' and uscc = "
        "(select max(uscc) from audit.risk_classifications where system_code = 'ENT')",
        ("output.level2_scores", "max_score"),
    ),
    "level2_null": (
        "update audit.level2_scores set eva4 = null where system_code = 'IND' and uscc = "
        "(select max(uscc) from audit.risk_classifications where system_code = 'IND')",
        ("output.level2_scores", "null_scores"),
    ),
}


@pytest.mark.parametrize("what", sorted(OUTPUT_BREAKS))
def test_output_gate_blocks(world, what):
    sql, expected = OUTPUT_BREAKS[what]
    saved = save_audit(world.conn)
    assert world.conn.execute(sql).rowcount > 0
    try:
        rid = world.run_id(what)
        output = run_output_gates(JUNE, rid)
        assert expected in _failed(output), output.summary()
        entry = _assert_blocked(world, JUNE, rid, [world.raw_june, output], expect=expected)
        assert Path(entry["data_docs"]["output"]).is_file()
    finally:
        restore_audit(world.conn, saved)


def test_failing_dbt_tests_block(world):
    rid = world.run_id("dbt")
    dbt = {"results": [{"unique_id": "test.credit_risk.not_null_x", "status": "fail", "failures": 2}]}
    entry = _assert_blocked(world, JUNE, rid, [world.raw_june, world.output_june], dbt=dbt)
    dbt_gate = next(g for g in entry["gate_results"] if g["name"] == "dbt_tests")
    assert not dbt_gate["success"] and "test.credit_risk.not_null_x" in json.dumps(dbt_gate)


def test_missing_gate_report_blocks(world):
    rid = world.run_id("missing")
    entry = _assert_blocked(world, JUNE, rid, [world.output_june, None])
    assert any("raw gate ran" in f for f in entry["failed_expectations"])


# ------------------------------------------------------------------------------- drift


def test_drift_blocks_until_approved(world):
    conn = world.conn
    saved = save_audit(conn)
    shift_classes(conn, "ENT", "A", "D", 3)  # D share of ENT: 3 % -> 6 %
    try:
        rid = world.run_id("drift")
        output = run_output_gates(JUNE, rid)
        failing = next(r for r in output.failures() if r["suite"] == "output.drift")
        assert {f["subject"] for f in failing["observed"]} == {"ENT/A", "ENT/D"}
        assert {f["drift_points"] for f in failing["observed"]} == {3.0}
        assert output.meta["previous_as_of"] == MAY.isoformat()
        _assert_blocked(world, JUNE, rid, [world.raw_june, output], expect=("output.drift", "drift_points"))

        publish.approve(JUNE, "3 ENT entities reclassified after court rulings", "analyst.li")
        rid = world.run_id("drift-approved")
        output = run_output_gates(JUNE, rid)
        assert output.success, output.summary()
        assert output.meta["drift_approval"]["approved_by"] == "analyst.li"
        result = publish.publish(JUNE, rid, [world.raw_june, output], DBT_OK, "pytest")
        assert result.class_counts["ENT"]["D"] == 6
        changes = conn.execute(
            "select previous_as_of, previous_class, risk_class, steps, system_code from published.risk_class_changes "
            "where as_of = %s",
            (JUNE,),
        ).fetchall()
        assert changes == [(MAY, "A", "D", 3, "ENT")] * 3
    finally:
        conn.execute("delete from published.drift_approvals where as_of = %s", (JUNE,))
        restore_audit(conn, saved)


def test_approve_needs_a_reason(world):
    with pytest.raises(ValueError):
        publish.approve(JUNE, "  ", "someone")


# ------------------------------------------------------------------- re-publish, concurrency


def test_republishing_replaces_the_as_of_and_keeps_both_ledger_rows(world):
    conn = world.conn
    rid = world.run_id("republish")
    reports = [world.raw_june, world.output_june]
    first = publish.publish(JUNE, rid, reports, DBT_OK, "pytest")
    second = publish.publish(JUNE, rid, reports, DBT_OK, "pytest")
    assert second.publication_id > first.publication_id
    for table, n in second.rows.items():
        got = conn.execute(
            f"select count(*), min(publication_id), max(publication_id) from published.{table} where as_of = %s",
            (JUNE,),
        ).fetchone()
        assert got == (n, second.publication_id, second.publication_id)
    rows = conn.execute(
        "select publication_id, status from published.publications where publication_id in (%s, %s)",
        (first.publication_id, second.publication_id),
    ).fetchall()
    assert sorted(rows) == [(first.publication_id, "published"), (second.publication_id, "published")]


def test_concurrent_publishes_of_one_as_of_do_not_duplicate_rows(world):
    import psycopg

    from credit_risk import db
    from credit_risk.gates.schema import LOCK_PUBLISH

    conn = world.conn
    rid = world.run_id("concurrent")
    output = world.output_june
    outcomes: list[object] = []

    def run():
        try:
            outcomes.append(publish.publish(JUNE, rid, [world.raw_june, output], DBT_OK, "pytest"))
        except Exception as e:  # noqa: BLE001 - the assertion below reports it
            outcomes.append(e)

    # hold the as_of's publish lock so that both runs are certainly waiting at the same time
    with psycopg.connect(db.warehouse_url().url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s, %s)", (LOCK_PUBLISH, JUNE.toordinal()))
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        waiting, deadline = 0, time.monotonic() + 60  # generous: CI machines can be slow to start threads
        while time.monotonic() < deadline:
            waiting = holder.execute(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted and objid = %s",
                (JUNE.toordinal(),),
            ).fetchone()[0]
            if waiting == 2:
                break
            threading.Event().wait(0.05)
        assert waiting == 2
        holder.execute("select pg_advisory_unlock(%s, %s)", (LOCK_PUBLISH, JUNE.toordinal()))
    for t in threads:
        t.join(timeout=60)
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    ids = sorted(o.publication_id for o in outcomes)  # type: ignore[attr-defined]
    for table in ("indicator_scores", "risk_classifications", "credit_evaluations", "level2_scores"):
        got = conn.execute(
            f"select count(*), count(distinct publication_id), max(publication_id) from published.{table} "
            "where as_of = %s",
            (JUNE,),
        ).fetchone()
        assert got[0] == outcomes[0].rows[table]  # type: ignore[attr-defined]
        assert got[1:] == (1, ids[1])  # the later publication replaced the earlier one


def test_publish_gives_up_after_the_lock_timeout(world, monkeypatch):
    import psycopg

    from credit_risk import db
    from credit_risk.gates.schema import LOCK_PUBLISH

    monkeypatch.setenv("CREDIT_RISK_GATES__PUBLISH__LOCK_TIMEOUT_SECONDS", "1")
    rid = world.run_id("lock-timeout")
    output = world.output_june
    with psycopg.connect(db.warehouse_url().url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s, %s)", (LOCK_PUBLISH, JUNE.toordinal()))
        _assert_blocked(world, JUNE, rid, [world.raw_june, output], expect=("publish", "publish_lock"))


# ------------------------------------------------------------------------------- schema


def test_published_schema_is_idempotent_and_partitioned(world):
    conn = world.conn
    ensure_published_schema(conn)
    ensure_published_schema(conn)
    parts = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "join pg_class p on p.oid = i.inhparent where p.relname = 'risk_classifications' "
        "and p.relnamespace = 'published'::regnamespace order by 1"
    ).fetchall()
    assert parts == [("risk_classifications_20250531",), ("risk_classifications_20250630",)]
    pk = conn.execute(
        "select pg_get_constraintdef(oid) from pg_constraint where conrelid = 'published.level2_scores'::regclass "
        "and contype = 'p'"
    ).fetchone()
    assert pk == ("PRIMARY KEY (as_of, uscc, system_code)",)
    cols = conn.execute(
        "select array_agg(attname::text order by attnum) from pg_attribute "
        "where attrelid = 'published.level2_scores'::regclass and attnum > 0 and not attisdropped"
    ).fetchone()
    assert cols == (["as_of", "uscc", "system_code", *LEVEL2, "publication_id"],)


def test_published_long_level2_scores_are_converted_to_wide(world):
    """A warehouse on schema v1 (level2_scores long) gets the wide table with the same
    scores, publication ids and one partition per as_of, when ensure_published_schema runs."""
    conn = world.conn
    before = published_state(conn)
    wide = conn.execute(
        "select as_of, count(*) from published.level2_scores group by as_of order by as_of"
    ).fetchall()
    assert [a for a, _ in wide] == [MAY, JUNE]
    codes = ", ".join(f"('{c.upper()}', x.{c})" for c in LEVEL2)
    # rebuild the v1 layout from the published rows
    conn.execute(
        "create temp table v1_long as select x.as_of, x.uscc, x.system_code, l.level2_code, l.score, "
        f"x.publication_id from published.level2_scores x cross join lateral (values {codes}) as l(level2_code, score)"
    )
    conn.execute("drop table published.level2_scores")
    conn.execute(
        "create table published.level2_scores (as_of date not null, uscc char(18) not null, "
        "system_code text not null, level2_code text not null, score numeric, publication_id bigint not null, "
        "primary key (as_of, uscc, system_code, level2_code)) partition by list (as_of)"
    )
    for as_of, _ in wide:
        conn.execute(
            f"create table published.level2_scores_{as_of:%Y%m%d} partition of published.level2_scores "
            f"for values in ('{as_of.isoformat()}')"
        )
    conn.execute("insert into published.level2_scores select * from v1_long")
    conn.execute("drop table v1_long")
    conn.execute("comment on schema published is 'credit-risk published schema v1'")
    assert published_state(conn)["level2_scores"][0] == sum(n for _, n in wide) * len(LEVEL2)
    ensure_published_schema(conn)
    assert published_state(conn) == before
    part = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = 'published.level2_scores'::regclass order by 1"
    ).fetchall()
    assert part == [("level2_scores_20250531",), ("level2_scores_20250630",)]


# --------------------------------------------------------------- last: rebuilds audit.*


def test_audit_rebuilt_after_the_gate_blocks(world):
    conn = world.conn
    rid = world.run_id("rebuilt")
    output = world.output_june  # validated the audit tables as they are now
    build_audit(conn, JUNE)  # dbt ran again after the gate: what is there was not validated
    entry = _assert_blocked(world, JUNE, rid, [world.raw_june, output])
    assert any("rebuilt after the output gate" in f for f in entry["failed_expectations"])
