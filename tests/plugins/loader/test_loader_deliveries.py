"""The contract's "Bad deliveries" table, row by row, against a real PostgreSQL.

Every delivery here is hand-made (conftest.Landing) so each defect is exactly the one named.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
from dataclasses import asdict

import pytest
from loader_fixtures import (
    PENALTY_HEADER,
    REGISTRATION_HEADER,
    csv_text,
    make_uscc,
    people,
    registration_rows,
)

from credit_risk import config, pii
from credit_risk.loader import (
    DeliveryRejected,
    accounting_violations,
    discover,
    load_delivery,
    load_landing,
    raise_for_rejections,
)

PERSONS = people(6)


def penalty(rid: str, u: str, **kw) -> list[str | None]:
    row = {
        "record_id": rid,
        "uscc": u,
        "decision_no": f"哈市监罚〔2025〕{rid}号",
        "decided_on": "2025-01-15",
        "violation_type": "虚假宣传",
        "severity": "fine_small",
        "fine_amount": "5000.00",
        "publicity_end_on": None,
        "repaired_on": None,
        "deleted": "N",
    }
    row.update(kw)
    return [row[h] for h in PENALTY_HEADER]


def rows_of(conn, sql, *args):
    return conn.execute(sql, args).fetchall()


def ledger(conn, folder):
    return rows_of(
        conn,
        "select status, reason, rows_manifest, rows_loaded, rows_quarantined, orphan_rows from ingest.deliveries"
        " where delivery_path = %s order by delivery_id",
        str(folder),
    )


@pytest.fixture()
def registered(landing, conn):
    """A loaded registration snapshot of PERSONS (so orphans can be counted)."""
    folder = landing.deliver(
        "samr",
        "registration",
        "20250131",
        {"part-0001.csv": csv_text(REGISTRATION_HEADER, registration_rows(PERSONS))},
    )
    r = load_delivery(folder, conn)
    assert r.status in ("accepted", "duplicate")
    return folder


# ------------------------------------------------------------------ waiting, ignored


def test_folder_without_manifest_waits_and_is_reported(landing, conn, monkeypatch, caplog):
    folder = landing.deliver(
        "samr", "penalties", "20250201", {"part-0001.csv": csv_text(PENALTY_HEADER, [])}, write_manifest=False
    )
    (landing.root / "README.txt").write_text("not a delivery")
    (landing.root / "samr" / "penalties" / "latest").mkdir()
    (landing.root / "nosuchdept").mkdir()
    found = discover(landing.root, conn)
    assert [w.path for w in found.waiting] == [str(folder)] and not found.waiting[0].overdue
    assert not found.ready
    ignored = {i.path: i.why for i in found.ignored}
    assert str(landing.root / "README.txt") in ignored
    assert str(landing.root / "samr" / "penalties" / "latest") in ignored
    assert str(landing.root / "nosuchdept") in ignored
    json.dumps(found.to_dict())  # XCom-serializable
    kinds = {
        k
        for (k,) in rows_of(
            conn, "select kind from ingest.reports where path like %s", str(landing.root) + "%"
        )
    }
    assert {"waiting", "ignored"} <= kinds
    # past the deadline: reported as overdue and alerted once, still not rejected
    monkeypatch.setenv("CREDIT_RISK_MANIFEST_DEADLINE_HOURS", "0")
    with caplog.at_level(logging.WARNING, logger="credit_risk.notify"):
        found = discover(landing.root, conn)
        discover(landing.root, conn)
    assert found.waiting[0].overdue
    assert sum("manifest overdue" in r.message for r in caplog.records) == 1
    # the batch run skips it and never waits
    assert load_landing(landing.root) == []
    assert not rows_of(conn, "select 1 from ingest.deliveries where delivery_path = %s", str(folder))


# ------------------------------------------------------------------ rejections


def _rejected(conn, folder, code):
    rows = ledger(conn, folder)
    assert len(rows) == 1, rows
    status, reason, _manifest_rows, loaded, quarantined, _orphans = rows[0]
    assert status == "rejected" and reason.startswith(code), reason
    assert loaded == 0 and quarantined == 0
    assert not rows_of(
        conn,
        "select 1 from raw.penalties where _file_name is not null and _delivery_id in "
        "(select delivery_id from ingest.deliveries where delivery_path = %s)",
        str(folder),
    )
    assert not rows_of(
        conn,
        "select 1 from ingest.quarantine where delivery_id in "
        "(select delivery_id from ingest.deliveries where delivery_path = %s)",
        str(folder),
    )


GOOD = csv_text(PENALTY_HEADER, [penalty("R1", "91110000600037341L")])


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda L: L.deliver("samr", "penalties", "20250301", {"p.csv": GOOD}, raw_manifest=b"{not json"),
            "manifest_unreadable",
        ),
        (
            lambda L: L.deliver(
                "samr", "penalties", "20250302", {"p.csv": GOOD}, manifest={"files": "p.csv"}
            ),
            "manifest_unreadable",
        ),
        (lambda L: L.deliver("samr", "fines", "20250303", {"p.csv": GOOD}), "unknown_feed"),
        (
            lambda L: L.deliver(
                "samr", "penalties", "20250304", {"p.csv": GOOD}, manifest={"delivery_date": "2025-03-05"}
            ),
            "manifest_mismatch",
        ),
        (
            lambda L: L.deliver(
                "samr", "penalties", "20250305", {"p.csv": GOOD}, manifest={"feed": "complaints"}
            ),
            "manifest_mismatch",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250306",
                {"p.csv": GOOD},
                manifest={"files": [{"name": "../p.csv", "rows": 1, "sha256": "0" * 64}]},
            ),
            "bad_file_name",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250307",
                {"p.csv": GOOD},
                manifest={"files": [{"name": "sub/p.csv", "rows": 1, "sha256": "0" * 64}]},
            ),
            "bad_file_name",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250308",
                {"p.csv": GOOD},
                manifest={"files": [{"name": "missing.csv", "rows": 1, "sha256": "0" * 64}]},
            ),
            "file_missing",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250309",
                {"p.csv": GOOD},
                manifest={"files": [{"name": "p.csv", "rows": 1, "sha256": "a" * 64}]},
            ),
            "checksum_mismatch",
        ),
        (
            lambda L: L.deliver("samr", "penalties", "20250310", {"p.csv": GOOD}, rows={"p.csv": 2}),
            "row_count_mismatch",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250311",
                {
                    "p.csv": csv_text(
                        [h for h in PENALTY_HEADER if h != "decided_on"],
                        [penalty("R1", "91110000600037341L")[:3] + penalty("R1", "91110000600037341L")[4:]],
                    )
                },
            ),
            "missing_required_column",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250312",
                {"p.csv.gz": b"\x1f\x8bnot really gzip"},
                rows={"p.csv.gz": 1},
            ),
            "unreadable_csv",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250313",
                {"p.csv": GOOD.encode() + b"R2,\xff\xfe\n"},
                rows={"p.csv": 2},
            ),
            "unreadable_csv",
        ),
        (
            lambda L: L.deliver(
                "samr",
                "penalties",
                "20250314",
                {"p.csv": GOOD + 'R3,"91110000600037341L,x\n'},
                rows={"p.csv": 2},
            ),
            "unreadable_csv",
        ),
        (
            lambda L: L.deliver(
                "samr", "penalties", "20250315", {"p.csv": GOOD}, manifest={"encoding": "Big5"}
            ),
            "manifest_unreadable",
        ),
        (
            lambda L: L.deliver("samr", "penalties", "20250316", {"p.csv": GOOD}, mode="snapshot"),
            "manifest_mismatch",
        ),
    ],
    ids=[
        "not-json",
        "files-not-list",
        "unknown-feed",
        "date-mismatch",
        "feed-mismatch",
        "dotdot",
        "slash",
        "file-missing",
        "checksum",
        "row-count",
        "required-column-missing",
        "bad-gzip",
        "undecodable",
        "unclosed-quote",
        "unknown-encoding",
        "wrong-mode",
    ],
)
def test_rejections_load_nothing_record_why_and_alert(landing, conn, caplog, make, code):
    folder = make(landing)
    with caplog.at_level(logging.ERROR, logger="credit_risk.notify"):
        r = load_delivery(folder, conn)
    assert r.failed and r.status == "rejected" and r.reason.startswith(code), r.reason
    assert r.rows_loaded == 0 and r.rows_quarantined == 0
    _rejected(conn, folder, code)
    assert any("delivery rejected" in rec.message for rec in caplog.records)
    json.dumps(asdict(r))
    with pytest.raises(DeliveryRejected):
        raise_for_rejections([r])
    # not offered again while the folder is unchanged
    assert str(folder) not in [d.path for d in discover(landing.root, conn).ready]


# ------------------------------------------------------------------ quarantine


def test_every_reason_code_is_quarantined_at_its_physical_line(landing, conn, registered):
    u = PERSONS[0]["uscc"]
    header = PENALTY_HEADER + ["inspector_note"]  # an unknown column: ignored and reported
    body = csv_text(header, [penalty("G1", u) + ["x"]]).splitlines(keepends=True)
    lines = [
        body[0],  # 1 header
        body[1],  # 2 good
        '"G2",' + u + ',"第\n二行",2025-01-16,违规,warning,,,,N,x\n',  # 3-4 good, multi-line decision_no
        "\n",  # 5 blank line -> field_count
        "R6," + u + ",D,2025-01-15,V,warning\n",  # 6 too few fields
        "R7," + u + ",,2025-01-15,V,warning,1,,,N,x\n",  # 7 required_empty (decision_no)
        "R8," + u + ",D,2025-02-30,V,warning,1,,,N,x\n",  # 8 bad_date
        "R9," + u + ",D,2025-01-15,V,warning,1.234,,,N,x\n",  # 9 bad_number
        "R10," + u + ",D,2025-01-15,V,Warning,1,,,N,x\n",  # 10 bad_enum
        "R11," + u + ",D,2025-01-15,V,warning,1,,,maybe,x\n",  # 11 bad_flag
        "R12," + u[:-1] + ("0" if u[-1] != "0" else "1") + ",D,2025-01-15,V,warning,1,,,N,x\n",  # 12 bad_uscc
        "R13, " + u + ",D,2025-01-15,V,warning,1,,,N,x\n",  # 13 leading space -> bad_uscc
        "G3,"
        + make_uscc(random.Random(99))
        + ",D,2025-01-15, V ,warning,,,,,x\n",  # 14 good (orphan; str spaces kept)
        ",,,,,,,,,,\n",  # 15 only delimiters -> required_empty
    ]
    folder = landing.deliver("samr", "penalties", "20250401", {"part-0001.csv": "".join(lines)})
    r = load_delivery(folder, conn)
    assert (r.status, r.rows_manifest, r.rows_loaded, r.rows_quarantined, r.orphan_rows) == (
        "accepted",
        13,
        3,
        10,
        1,
    )
    q = rows_of(
        conn,
        "select line_no, reason, raw_text from ingest.quarantine where delivery_id = %s order by line_no",
        r.delivery_id,
    )
    assert [(line, reason) for line, reason, _ in q] == [
        (5, "field_count"),
        (6, "field_count"),
        (7, "required_empty"),
        (8, "bad_date"),
        (9, "bad_number"),
        (10, "bad_enum"),
        (11, "bad_flag"),
        (12, "bad_uscc"),
        (13, "bad_uscc"),
        (15, "required_empty"),
    ]
    texts = {line: text for line, _, text in q}
    assert texts[5] == "" and texts[6] == lines[4].rstrip("\n") and texts[13] == lines[11].rstrip("\n")
    loaded = rows_of(
        conn,
        "select record_id, decision_no, violation_type, _line_no, _file_name, deleted from raw.penalties where _delivery_id = %s order by _line_no",
        r.delivery_id,
    )
    assert loaded == [
        ("G1", "哈市监罚〔2025〕G1号", "虚假宣传", 2, "part-0001.csv", False),
        ("G2", "第\n二行", "违规", 3, "part-0001.csv", False),
        ("G3", "D", " V ", 14, "part-0001.csv", False),
    ]
    reports = rows_of(
        conn, "select kind, detail from ingest.reports where path = %s", str(folder / "part-0001.csv")
    )
    assert ("unknown_column", "ignored columns: inspector_note") in reports
    assert accounting_violations(conn) == []


def test_all_reason_codes_on_registration(landing, conn):
    """Codes the penalties feed cannot produce: bad_month is on monthly feeds; bad_code, bad_id_no,
    bad_ratio on registration / inspectors."""
    p = PERSONS[1]
    base = registration_rows([p])[0]

    def reg(**kw):
        row = dict(zip(REGISTRATION_HEADER, base, strict=True))
        row.update(kw)
        return [row[h] for h in REGISTRATION_HEADER]

    rows = [
        reg(),
        reg(region_code="23010"),
        reg(industry_code="52A2"),
        reg(legal_rep_id_no=p["id"][:-1] + ("0" if p["id"][-1] != "0" else "1")),
        reg(farmer_member_ratio="1.5"),
    ]
    folder = landing.deliver(
        "samr", "registration", "20240101", {"part-0001.csv": csv_text(REGISTRATION_HEADER, rows)}
    )
    r = load_delivery(folder, conn)
    reasons = [
        x
        for (x,) in rows_of(
            conn,
            "select reason from ingest.quarantine where delivery_id = %s order by line_no",
            r.delivery_id,
        )
    ]
    assert reasons == ["bad_code", "bad_code", "bad_id_no", "bad_ratio"]
    monthly = landing.deliver(
        "tax",
        "monthly_returns",
        "20250131",
        {
            "part-0001.csv": "record_id,uscc,period,declared,is_abnormal_taxpayer\nM1,91110000600037341L,2025-13,Y,N\nM2,91110000600037341L,2025-01,Y,N\n"
        },
    )
    r = load_delivery(monthly, conn)
    assert [
        x
        for (x,) in rows_of(
            conn, "select reason from ingest.quarantine where delivery_id = %s", r.delivery_id
        )
    ] == ["bad_month"]
    assert (
        rows_of(
            conn,
            "select period, tax_paid, deleted from raw.monthly_returns where _delivery_id = %s",
            r.delivery_id,
        )[0][0].isoformat()
        == "2025-01-01"
    )
    inspectors = landing.deliver(
        "samr",
        "inspectors",
        "20250131",
        {
            "part-0001.csv": "inspector_id,member_unit,region_code,is_active\nI1,市场监管局,230100,Y\nI2,市场监管局,230102,Y\n"
        },
    )
    r = load_delivery(inspectors, conn)
    assert [
        x
        for (x,) in rows_of(
            conn, "select reason from ingest.quarantine where delivery_id = %s", r.delivery_id
        )
    ] == ["bad_code"]
    assert r.orphan_rows is None  # no uscc in this feed
    assert accounting_violations(conn) == []


# ------------------------------------------------------------------ re-delivery, changes, corrections


def test_duplicate_redelivery_is_a_noop_and_changed_manifest_is_rejected(landing, conn, tmp_path):
    u = PERSONS[2]["uscc"]
    files = {"part-0001.csv": csv_text(PENALTY_HEADER, [penalty("D1", u), penalty("D2", u)])}
    folder = landing.deliver("samr", "penalties", "20250501", files)
    first = load_delivery(folder, conn)
    assert first.status == "accepted" and first.rows_loaded == 2
    before = rows_of(conn, "select count(*) from raw.penalties")
    # the identical delivery again, from another landing zone: nothing changes
    from loader_fixtures import Landing

    other = Landing(tmp_path / "other")
    again = load_delivery(other.deliver("samr", "penalties", "20250501", files), conn)
    assert again.status == "duplicate" and again.rows_loaded == 0 and not again.failed
    assert rows_of(conn, "select count(*) from raw.penalties") == before
    # the folder's manifest changes after it was loaded: rejected, reported, nothing changes
    folder2 = landing.deliver(
        "samr", "penalties", "20250501", {"part-0001.csv": csv_text(PENALTY_HEADER, [penalty("D1", u)])}
    )
    changed = load_delivery(folder2, conn)
    assert changed.failed and changed.reason.startswith("manifest_changed")
    assert rows_of(conn, "select count(*) from raw.penalties") == before
    assert rows_of(conn, "select 1 from ingest.reports where kind = 'rejected' and path = %s", str(folder))


def test_unlisted_file_ignored_and_reported(landing, conn):
    u = PERSONS[3]["uscc"]
    folder = landing.deliver(
        "samr", "penalties", "20250601", {"part-0001.csv": csv_text(PENALTY_HEADER, [penalty("U1", u)])}
    )
    (folder / "part-0002.csv").write_text(csv_text(PENALTY_HEADER, [penalty("U2", u)]))
    r = load_delivery(folder, conn)
    assert r.status == "accepted" and r.rows_loaded == 1
    assert rows_of(
        conn, "select kind from ingest.reports where path = %s", str(folder / "part-0002.csv")
    ) == [("unlisted_file",)]
    assert not rows_of(conn, "select 1 from raw.penalties where record_id = 'U2'")


def test_corrections_and_retractions_are_appended(landing, conn):
    u = PERSONS[4]["uscc"]
    d1 = landing.deliver(
        "samr",
        "penalties",
        "20250701",
        {"part-0001.csv": csv_text(PENALTY_HEADER, [penalty("C1", u), penalty("C2", u)])},
    )
    d2 = landing.deliver(
        "samr",
        "penalties",
        "20250801",
        {
            "part-0001.csv": csv_text(
                PENALTY_HEADER, [penalty("C1", u, fine_amount="800.00"), penalty("C2", u, deleted="Y")]
            )
        },
    )
    results = load_landing(landing.root)
    assert [(r.delivery_date, r.status) for r in results] == [
        ("2025-07-01", "accepted"),
        ("2025-08-01", "accepted"),
    ]
    got = rows_of(
        conn,
        "select record_id, fine_amount::text, deleted, _delivery_date::text from raw.penalties"
        " where record_id in ('C1', 'C2') order by record_id, _delivery_date",
    )
    assert got == [
        ("C1", "5000.00", False, "2025-07-01"),
        ("C1", "800.00", False, "2025-08-01"),
        ("C2", "5000.00", False, "2025-07-01"),
        ("C2", "5000.00", True, "2025-08-01"),
    ]
    assert {str(d1), str(d2)} == {r.path for r in results}
    # re-running the same deliveries changes nothing
    snapshot = rows_of(conn, "select count(*), sum(hashtext(record_id || deleted::text)) from raw.penalties")
    ledger_n = rows_of(conn, "select count(*) from ingest.deliveries")
    assert load_landing(landing.root) == []
    assert (
        rows_of(conn, "select count(*), sum(hashtext(record_id || deleted::text)) from raw.penalties")
        == snapshot
    )
    assert rows_of(conn, "select count(*) from ingest.deliveries") == ledger_n


def test_snapshots_replace_and_older_ones_are_superseded(landing, conn):
    a, b = PERSONS[:3], PERSONS[3:]
    old = landing.deliver(
        "samr",
        "registration",
        "20260630",
        {"part-0001.csv": csv_text(REGISTRATION_HEADER, registration_rows(a))},
    )
    new = landing.deliver(
        "samr",
        "registration",
        "20260930",
        {"part-0001.csv": csv_text(REGISTRATION_HEADER, registration_rows(b))},
    )
    r_new = load_delivery(new, conn)
    r_old = load_delivery(old, conn)
    assert r_new.status == r_old.status == "accepted"
    assert r_old.reason.startswith("superseded") and r_old.rows_loaded == 3
    current = {u for (u,) in rows_of(conn, "select uscc from raw.registration")}
    assert current == {p["uscc"] for p in b}
    assert rows_of(
        conn, "select is_current from ingest.deliveries where delivery_id = %s", r_old.delivery_id
    ) == [(False,)]
    newest = landing.deliver(
        "samr",
        "registration",
        "20261231",
        {"part-0001.csv": csv_text(REGISTRATION_HEADER, registration_rows(a))},
    )
    load_delivery(newest, conn)
    assert {u for (u,) in rows_of(conn, "select uscc from raw.registration")} == {p["uscc"] for p in a}
    assert rows_of(conn, "select count(*) from raw.registration") == [(3,)]
    assert accounting_violations(conn) == []


# ------------------------------------------------------------------ encodings and personal data


def test_gb18030_and_gzip_load_byte_correct_chinese(landing, conn):
    u = PERSONS[5]["uscc"]
    text = csv_text(PENALTY_HEADER, [penalty("Z1", u, violation_type="无照经营（𠮷野家）")])
    f1 = landing.deliver("samr", "penalties", "20250901", {"part-0001.csv": text}, encoding="GB18030")
    f2 = landing.deliver("samr", "penalties", "20250902", {"part-0001.csv.gz": text.replace("Z1", "Z2")})
    f3 = landing.deliver(
        "samr", "penalties", "20250903", {"part-0001.csv.gz": text.replace("Z1", "Z3")}, encoding="GB18030"
    )
    bom = landing.deliver(
        "samr",
        "penalties",
        "20250904",
        {"part-0001.csv": "\ufeff" + text.replace("Z1", "Z4").replace("\n", "\r\n")},
    )
    for f in (f1, f2, f3, bom):
        assert load_delivery(f, conn).status == "accepted"
    got = rows_of(
        conn,
        "select record_id, violation_type, decision_no from raw.penalties where record_id like 'Z%%' order by 1",
    )
    assert [(rid, v) for rid, v, _ in got] == [(f"Z{i}", "无照经营（𠮷野家）") for i in range(1, 5)]
    assert got[0][2] == "哈市监罚〔2025〕Z1号"


def test_personal_data_never_in_clear(landing, conn):
    persons = people(4, seed=31)
    rows = registration_rows(persons)
    bad = list(rows[1])
    bad[3] = "52X2"  # bad_code: quarantined with personal fields hashed
    text = csv_text(REGISTRATION_HEADER, [rows[0], bad, rows[2]])
    text += ",".join("" if v is None else v for v in rows[3][:-3]) + "\n"  # wrong field count
    folder = landing.deliver("samr", "registration", "20270101", {"part-0001.csv": text})
    changes = "record_id,uscc,change_type,changed_on,before_value,after_value\n"
    changes += f"X1,{persons[0]['uscc']},legal_rep,2025-01-02,{persons[0]['rep']},{persons[1]['rep']}\n"
    changes += f"X2,{persons[0]['uscc']},address,2025-01-02,旧地址,新地址\n"
    changes += f"X3,{persons[0]['uscc']},legal_rep,2025-13-02,{persons[2]['rep']},{persons[3]['rep']}\n"
    changes += f"X4,{persons[0]['uscc']},legal_rep,{persons[3]['id']}\n"
    f2 = landing.deliver("samr", "registration_changes", "20250102", {"part-0001.csv": changes})
    r1, r2 = load_delivery(folder, conn), load_delivery(f2, conn)
    assert (r1.rows_loaded, r1.rows_quarantined, r2.rows_loaded, r2.rows_quarantined) == (2, 2, 2, 2)
    # stored as keyed hashes, so joins on the same person still work
    key = config.hmac_key()
    assert rows_of(
        conn,
        "select legal_rep_name, legal_rep_id_no, contact_phone from raw.registration where uscc = %s",
        persons[0]["uscc"],
    ) == [
        (
            pii.hash_value(persons[0]["rep"], key),
            pii.hash_value(persons[0]["id"], key),
            pii.hash_value(persons[0]["phone"], key),
        )
    ]
    assert rows_of(
        conn,
        "select before_value, after_value from raw.registration_changes where record_id in ('X1', 'X2') order by 1 nulls last",
    ) in (
        [
            (pii.hash_value(persons[0]["rep"], key), pii.hash_value(persons[1]["rep"], key)),
            ("旧地址", "新地址"),
        ],
        [
            ("旧地址", "新地址"),
            (pii.hash_value(persons[0]["rep"], key), pii.hash_value(persons[1]["rep"], key)),
        ],
    )
    hashed = rows_of(
        conn,
        "select raw_text, text_is_hashed, text_length from ingest.quarantine where delivery_id = %s and reason = 'field_count'",
        r1.delivery_id,
    )
    assert len(hashed) == 1 and hashed[0][1] is True and len(hashed[0][0]) == 64 and hashed[0][2] > 60
    # scan every text column of every table of the warehouse for the clear values
    clear = {v for p in persons for v in (p["rep"], p["id"], p["phone"])}
    cols = rows_of(
        conn,
        "select table_schema, table_name, column_name from information_schema.columns"
        " where data_type in ('text', 'character', 'character varying', 'json', 'jsonb')"
        " and table_schema not in ('pg_catalog', 'information_schema')",
    )
    assert len(cols) > 50
    found = []
    control = persons[0]["name"]  # not personal: must be found in clear, or the scan is blind
    for schema, table, column in cols:
        for value in [*clear, control]:
            if rows_of(
                conn,
                f'select 1 from "{schema}"."{table}" where strpos("{column}"::text, %s) > 0 limit 1',
                value,
            ):
                found.append((schema, table, column, value))
    assert {(schema, table, column) for schema, table, column, value in found if value == control} >= {
        ("raw", "registration", "entity_name")
    }
    assert [f for f in found if f[3] != control] == []


def test_missing_optional_columns_are_null_and_deleted_defaults_to_n(landing, conn):
    u = PERSONS[0]["uscc"]
    folder = landing.deliver(
        "samr",
        "penalties",
        "20251001",
        {
            "part-0001.csv": f"severity,decided_on,record_id,violation_type,uscc,decision_no\nwarning,2025-02-01,O1,V,{u},D\n"
        },
    )
    r = load_delivery(folder, conn)
    assert r.rows_loaded == 1
    assert rows_of(
        conn, "select fine_amount, repaired_on, deleted, severity from raw.penalties where record_id = 'O1'"
    ) == [(None, None, False, "warning")]


def test_load_landing_orders_registration_first_and_in_parallel(landing, conn):
    persons = people(3, seed=41)
    landing.deliver(
        "samr",
        "penalties",
        "20251101",
        {"part-0001.csv": csv_text(PENALTY_HEADER, [penalty("P1", persons[0]["uscc"])])},
    )
    landing.deliver(
        "tax",
        "credit_ratings",
        "20251101",
        {
            "part-0001.csv": f"record_id,uscc,rating_year,rating\nT1,{persons[1]['uscc']},2024,A\nT2,{make_uscc(random.Random(5))},2024,B\n"
        },
    )
    landing.deliver(
        "samr",
        "registration",
        "20280101",
        {"part-0001.csv": csv_text(REGISTRATION_HEADER, registration_rows(persons))},
    )
    gz = landing.deliver(
        "tax",
        "credit_ratings",
        "20251102",
        {"part-0001.csv.gz": gzip.compress(b"record_id,uscc,rating_year,rating\n")},
        rows={"part-0001.csv.gz": 0},
    )
    results = load_landing(landing.root, workers=2)
    assert results[0].feed == "registration"
    by_feed = {(r.feed, r.delivery_date): r for r in results}
    assert by_feed[("penalties", "2025-11-01")].orphan_rows == 0
    assert by_feed[("credit_ratings", "2025-11-01")].orphan_rows == 1
    assert by_feed[("credit_ratings", "2025-11-02")].rows_manifest == 0
    assert all(r.status == "accepted" for r in results), results
    assert str(gz) in {r.path for r in results}
    assert accounting_violations(conn) == []


def test_plain_raw_table_created_by_someone_else_still_loads(landing, conn):
    """A raw table that is not partitioned (e.g. made from `feeds.raw_table_ddl` by another tool):
    rows go in with their meta columns, a newer snapshot replaces the rows by TRUNCATE."""
    from credit_risk import feeds
    from credit_risk.loader import ensure_schema

    ensure_schema(conn)
    conn.execute("drop table raw.inspectors cascade")
    conn.execute(feeds.raw_table_ddl(feeds.FEEDS_BY_NAME["inspectors"]))
    conn.commit()
    header = "inspector_id,member_unit,region_code,is_active\n"
    first = landing.deliver(
        "samr", "inspectors", "20290101", {"p.csv": header + "I1,市场监管局,230100,Y\nI2,税务局,230200,N\n"}
    )
    second = landing.deliver("samr", "inspectors", "20290201", {"p.csv": header + "I3,市场监管局,230100,Y\n"})
    r1, r2 = load_delivery(first, conn), load_delivery(second, conn)
    assert (r1.status, r1.rows_loaded, r2.status, r2.rows_loaded) == ("accepted", 2, "accepted", 1)
    assert rows_of(conn, "select relkind::text from pg_class where oid = 'raw.inspectors'::regclass") == [
        ("r",)
    ]
    assert rows_of(
        conn,
        "select inspector_id, is_active, _delivery_id, _delivery_date::text, _file_name, _line_no from raw.inspectors",
    ) == [("I3", True, r2.delivery_id, "2029-02-01", "p.csv", 2)]
